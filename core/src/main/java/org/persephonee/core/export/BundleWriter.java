package org.persephonee.core.export;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.backbone.BackboneSpec;
import org.persephonee.core.eval.CascadeResult;
import org.persephonee.core.eval.Evaluation;
import org.persephonee.core.eval.OperatingPoint;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.HeadSpec;
import org.persephonee.core.personalise.BnStats;
import org.persephonee.core.personalise.PersonalisationResult;
import org.persephonee.core.util.AtomicFiles;
import org.persephonee.core.util.Hashes;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Writes a deployment bundle: {@code exit-config.json}, the selected heads' weights, the final
 * classifier, adapted BatchNorm statistics if any, and a copy of the backbone. The bundle is assembled in
 * a temporary sibling folder and renamed into place, so a reader never sees half a bundle.
 *
 * <p><b>What is replaced.</b> Every bundle written here carries {@code "format": "persephonee-bundle"} in its
 * {@code exit-config.json} (next to {@code schema} and {@code schemaVersion}, which the loader checks; the
 * loader ignores the marker). An existing folder is replaced only when it is empty or when both hold:
 * <ul>
 * <li>its {@code exit-config.json} parses and carries the marker, or, for bundles written before the marker
 *     existed, has no {@code format} field and the exit-config schema {@value ExitConfig#SCHEMA};</li>
 * <li>every entry in it is one a bundle holds: {@code exit-config.json}, the backbone folder,
 *     {@code exit-*.params}, {@code final.params}, {@code batchnorm-stats.bin}, the files the config names, the
 *     lab's {@code run.json}, and the hidden temporaries an interrupted atomic write of those leaves.</li>
 * </ul>
 * Anything else is refused, naming the folder and why; nothing in it is touched. (The backbone folder's
 * contents are not inspected.)
 *
 * <p><b>One writer per bundle.</b> {@link #checkTarget} takes an operating-system lock on a sibling
 * {@code .<name>.lock} file (which holds the owner's pid) and keeps it until the {@link Target} is closed,
 * so a second run for the same folder, in another process or in this one, fails at once. The lock dies
 * with its process: a lock file left by a killed run does not block; the file is removed on close.
 *
 * <p><b>Interrupted runs.</b> Writing uses {@code .<name>.tmp-<pid>-<n>} for the new bundle and
 * {@code .<name>.old-<pid>-<n>} for the one it replaces. Under the lock, {@link #checkTarget} repairs what a
 * killed run left (also under the names earlier versions used, {@code .<name>-<n>} and
 * {@code .<name>.old-<n>}): when the target is missing or empty and a complete earlier bundle was moved
 * aside, that bundle is put back (the most recent if several); other moved-aside bundles and every
 * unfinished temporary folder are deleted (never a folder named after a process that is still running).
 * A completed-but-unrenamed new bundle is not promoted: the run is being repeated anyway. Each repair is
 * reported in {@link Target#notes()}.
 */
public final class BundleWriter {
    public static final String CONFIG = "exit-config.json";
    /** Value of the {@code format} field that marks a bundle written here. */
    public static final String FORMAT = "persephonee-bundle";
    static final String FORMAT_FIELD = "format";
    static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping()
            .serializeSpecialFloatingPointValues().create();
    private static final long PID = ProcessHandle.current().pid();
    /** Files a bundle may hold besides exit weights and whatever its config names. */
    private static final Set<String> BUNDLE_FILES = Set.of(CONFIG, "final.params", "batchnorm-stats.bin",
            org.persephonee.core.workspace.RunRecord.FILE);
    private static final String BACKBONE_DIR = "backbone";
    private static final Pattern EXIT_WEIGHTS = Pattern.compile("exit-[^/\\\\]+\\.params");
    /** {@link AtomicFiles#write}'s temporary: "." + name + digits + ".tmp" (bundle file names end in a letter). */
    private static final Pattern ATOMIC_TMP = Pattern.compile("\\.(.*\\D)\\d+\\.tmp");
    /** Lock files held by this process (a second channel on the same file would drop the lock when closed). */
    private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

    private BundleWriter() { }

    /**
     * Writes the bundle: checks and locks {@code out} ({@link #checkTarget}), writes, releases the lock.
     * Repairs of an interrupted earlier run are made silently; use {@link #checkTarget} before long work
     * to refuse early and to report them.
     *
     * @param out target folder: must not exist, be empty, or be an earlier bundle (which is replaced)
     * @param bb the backbone the result was trained on (saved to disk, so it has a parameter hash)
     * @param r the personalisation result
     * @param ev its evaluation (latency profile, exit names)
     * @param choice the operating point whose exits and thresholds are exported
     * @return the bundle folder
     */
    public static Path write(Path out, Backbone bb, PersonalisationResult r, Evaluation ev,
                             OperatingPoint.Choice choice) throws IOException {
        try (Target t = checkTarget(out)) {
            return write(t, bb, r, ev, choice);
        }
    }

    /**
     * Writes the bundle to a target checked and locked by {@link #checkTarget} (checked again now: the
     * folder may have changed during the work).
     *
     * @see #write(Path, Backbone, PersonalisationResult, Evaluation, OperatingPoint.Choice)
     */
    public static Path write(Target target, Backbone bb, PersonalisationResult r, Evaluation ev,
                             OperatingPoint.Choice choice) throws IOException {
        return publish(target, tmp -> {
            ExitConfig cfg = new ExitConfig();
            Path bbDir = tmp.resolve("backbone");
            copyBackbone(bb, bbDir);
            cfg.backbone = new ExitConfig.BackboneRef();
            cfg.backbone.id = bb.id();
            cfg.backbone.sha256 = bb.parametersSha256();
            cfg.backbone.path = "backbone";
            cfg.input = BackboneSpec.Input.of(bb.input());
            cfg.labels.addAll(r.labelSpace().names());
            cfg.labelBackboneIndex = r.labelSpace().backboneIndex();
            cfg.confidence = ev.cascade().confidence().name().toLowerCase(Locale.ROOT);
            cfg.batchNorm = new ExitConfig.BatchNorm();
            cfg.batchNorm.adapted = r.batchNorm().adapted();
            cfg.batchNorm.reason = r.batchNorm().reason();
            if (r.batchNorm().adapted()) {
                byte[] stats = BnStats.toBytes(r.batchNorm().stats());
                cfg.batchNorm.file = "batchnorm-stats.bin";
                cfg.batchNorm.sha256 = Hashes.sha256(stats);
                AtomicFiles.write(tmp.resolve(cfg.batchNorm.file), stats);
            }
            CascadeResult c = choice.cascade();
            for (int p = 0; p < c.exits().length; p++) {
                ExitHead h = r.heads().get(c.exits()[p]);
                ExitConfig.Exit e = new ExitConfig.Exit();
                e.stage = h.stage();
                e.headId = h.head().id();
                e.head = head(h.head());
                e.weights = "exit-" + h.stage() + ".params";
                byte[] w = h.saveWeights();
                e.sha256 = Hashes.sha256(w);
                AtomicFiles.write(tmp.resolve(e.weights), w);
                e.threshold = c.thresholds()[p];
                e.macs = h.macs();
                e.ms = ev.profile().headMs(h);
                cfg.exits.add(e);
            }
            cfg.finalExit = new ExitConfig.Final();
            if (r.finalHead() != null) {
                cfg.finalExit.kind = "refit";
                cfg.finalExit.stage = r.finalHead().stage();
                cfg.finalExit.head = head(r.finalHead().head());
                cfg.finalExit.weights = "final.params";
                byte[] w = r.finalHead().saveWeights();
                cfg.finalExit.sha256 = Hashes.sha256(w);
                AtomicFiles.write(tmp.resolve(cfg.finalExit.weights), w);
                if (r.retrained() != null) {
                    cfg.finalExit.retrainedStages = new java.util.ArrayList<>(r.retrained().stages());
                    cfg.finalExit.retrainedWeights = "retrained-stages.params";
                    byte[] sw = r.retrained().saveWeights();
                    cfg.finalExit.retrainedSha256 = Hashes.sha256(sw);
                    AtomicFiles.write(tmp.resolve(cfg.finalExit.retrainedWeights), sw);
                }
            } else {
                cfg.finalExit.kind = "backbone";
                cfg.finalExit.stage = bb.stages().get(bb.stages().size() - 1).name();
            }
            List<String> stages = new java.util.ArrayList<>();
            cfg.exits.forEach(e -> stages.add(e.stage));
            cfg.expected = ExitConfig.Expected.of(choice, stages, r.evaluatedOn(), ev.profile().source());
            cfg.provenance = GSON.toJsonTree(r.provenance()).getAsJsonObject();
            cfg.provenance.addProperty("backbone_dir", bb.directory() == null ? null : bb.directory().toString());
            writeConfig(tmp, cfg);
        });
    }

    /**
     * Writes a bundle of every exit the run trained, thresholds off, with the final exit's figures of
     * {@code reference}: how the lab keeps a run in its workspace, to export an operating point from later
     * ({@link #subset(Path, Path, OperatingPoint.Choice, List)}).
     */
    public static Path writeEveryExit(Path out, Backbone bb, PersonalisationResult r, Evaluation ev,
                                      OperatingPoint.Choice reference) throws IOException {
        int n = r.heads().size();
        int[] all = new int[n];
        double[] off = new double[n];
        for (int j = 0; j < n; j++) {
            all[j] = j;
            off[j] = org.persephonee.core.eval.ThresholdSweep.OFF;
        }
        OperatingPoint.Choice every = new OperatingPoint.Choice(ev.cascade().evaluate(all, off),
                reference.finalAccuracy(), reference.finalMs(), reference.finalMacs(), reference.maxDrop());
        return write(out, bb, r, ev, every);
    }

    /** Writes {@code exit-config.json} with the {@code format} marker first. */
    private static void writeConfig(Path dir, ExitConfig cfg) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty(FORMAT_FIELD, FORMAT);
        for (Map.Entry<String, JsonElement> e : GSON.toJsonTree(cfg).getAsJsonObject().entrySet()) {
            if (!e.getKey().equals(FORMAT_FIELD)) {
                o.add(e.getKey(), e.getValue());
            }
        }
        AtomicFiles.writeString(dir.resolve(CONFIG), GSON.toJson(o) + "\n");
    }

    /** Fills a folder. */
    interface Filler {
        void fill(Path tmp) throws IOException;
    }

    /**
     * Assembles a bundle in a temporary sibling folder and renames it to the target: an existing bundle is
     * replaced in one step (moved aside, the new one renamed in, the old one deleted); a folder that is not a
     * bundle is refused. The target must be open (locked).
     */
    static Path publish(Target t, Filler filler) throws IOException {
        t.checkOpen();
        Path target = t.path();
        refuseUnlessReplaceable(target);
        Path parent = target.getParent();
        String name = target.getFileName().toString();
        Files.createDirectories(parent);
        Path tmp = AtomicFiles.createTempDir(parent, "." + name + ".tmp-" + PID + "-");
        try {
            filler.fill(tmp);
            Path old = null;
            if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                old = parent.resolve("." + name + ".old-" + PID + "-" + Long.toUnsignedString(System.nanoTime()));
                Files.move(target, old);
            }
            try {
                Files.move(tmp, target);
            } catch (IOException e) {
                if (old != null) {
                    Files.move(old, target);
                }
                throw e;
            }
            t.published = true;
            if (old != null) {
                try {
                    deleteTree(old);
                } catch (IOException e) {
                    // the new bundle is in place; the next run for this folder removes what is left
                }
            }
            return target;
        } catch (IOException | RuntimeException e) {
            deleteTree(tmp);
            throw e;
        }
    }

    /**
     * Writes a bundle holding some of another bundle's exits, with new thresholds: how the lab exports the
     * operating point the user picked from a run it kept (every exit, {@link #writeEveryExit}) in its workspace.
     * The result equals what {@link #write} gives for the same run and operating point (its {@code expected}
     * block is made the same way; what the figures were measured on comes from the kept bundle).
     *
     * @param source a bundle (typically with every trained exit)
     * @param out the bundle to write
     * @param choice the operating point: its cascade's thresholds, one per kept exit, and its figures
     * @param stages the stage of each of the choice's exits, in cascade order
     */
    public static Path subset(Path source, Path out, OperatingPoint.Choice choice, List<String> stages)
            throws IOException {
        try (Target t = checkTarget(out)) {
            return subset(source, t, choice, stages);
        }
    }

    /** {@link #subset(Path, Path, OperatingPoint.Choice, List)} to a target checked and locked by {@link #checkTarget}. */
    public static Path subset(Path source, Target out, OperatingPoint.Choice choice, List<String> stages)
            throws IOException {
        ExitConfig src = readExitConfig(source);
        ExitConfig.Expected from = src.expected == null ? new ExitConfig.Expected() : src.expected;
        return subset(source, src, out, stages, choice.cascade().thresholds(),
                ExitConfig.Expected.of(choice, stages, from.evaluatedOn, from.latencySource));
    }

    /**
     * A bundle with some of {@code source}'s exits and the given thresholds and figures (tests write
     * hand-made figures with it).
     */
    static Path subset(Path source, Target out, List<String> stages, double[] thresholds,
                       ExitConfig.Expected expected) throws IOException {
        return subset(source, readExitConfig(source), out, stages, thresholds, expected);
    }

    private static ExitConfig readExitConfig(Path source) throws IOException {
        try {
            return org.persephonee.core.util.JsonProblems.fromJson(GSON, Files.readString(source.resolve(CONFIG)),
                    ExitConfig.class);
        } catch (com.google.gson.JsonParseException e) {
            throw new IOException(source.resolve(CONFIG) + ": not a readable exit config (" + e.getMessage() + ")");
        }
    }

    private static Path subset(Path source, ExitConfig src, Target out, List<String> stages, double[] thresholds,
                               ExitConfig.Expected expected) throws IOException {
        if (thresholds.length != stages.size()) {
            throw new IllegalArgumentException(thresholds.length + " thresholds for " + stages.size() + " exits");
        }
        List<ExitConfig.Exit> kept = new java.util.ArrayList<>();
        for (int i = 0; i < stages.size(); i++) {
            String st = stages.get(i);
            ExitConfig.Exit e = src.exits.stream().filter(x -> x.stage.equals(st)).findFirst()
                    .orElseThrow(() -> new IOException(source + ": has no exit at stage " + st));
            e.threshold = thresholds[i];
            kept.add(e);
        }
        src.exits = kept;
        src.expected = expected;
        return publish(out, tmp -> {
            org.persephonee.core.util.FileTrees.copy(source.resolve(src.backbone.path), tmp.resolve(src.backbone.path));
            for (ExitConfig.Exit e : kept) {
                Files.copy(source.resolve(e.weights), tmp.resolve(e.weights));
            }
            if (src.finalExit.weights != null) {
                Files.copy(source.resolve(src.finalExit.weights), tmp.resolve(src.finalExit.weights));
            }
            // a final exit with re-trained last stages needs their weights too (the lab's export of a kept run
            // with them named a file it had not copied)
            if (src.finalExit.retrainedWeights != null) {
                Files.copy(source.resolve(src.finalExit.retrainedWeights), tmp.resolve(src.finalExit.retrainedWeights));
            }
            if (src.batchNorm != null && src.batchNorm.adapted) {
                Files.copy(source.resolve(src.batchNorm.file), tmp.resolve(src.batchNorm.file));
            }
            writeConfig(tmp, src);
        });
    }

    // ---------------------------------------------------------------- target: check, lock, repair

    /**
     * A bundle folder checked and locked for writing ({@link #checkTarget}); close it when done (the lock
     * is released and its file removed; parent folders the check created are removed again if nothing was
     * written).
     */
    public static final class Target implements AutoCloseable {
        private final Path path;
        private final Path lockFile;
        private final FileChannel channel;
        private final FileLock lock;
        private final List<Path> createdDirs;
        private final List<String> notes = new ArrayList<>();
        private volatile boolean published;
        private boolean closed;

        private Target(Path path, Path lockFile, FileChannel channel, FileLock lock, List<Path> createdDirs) {
            this.path = path;
            this.lockFile = lockFile;
            this.channel = channel;
            this.lock = lock;
            this.createdDirs = createdDirs;
        }

        /** The bundle folder (absolute). */
        public Path path() { return path; }

        /** What was repaired after an interrupted earlier run, one line each (empty when nothing was). */
        public List<String> notes() { return List.copyOf(notes); }

        void checkOpen() {
            if (closed || !lock.isValid()) {
                throw new IllegalStateException(path + ": the bundle target is no longer locked");
            }
        }

        @Override
        public synchronized void close() {
            if (closed) {
                return;
            }
            closed = true;
            try {
                // removed while still locked: a run that opened this file meanwhile sees it gone and retries
                Files.deleteIfExists(lockFile);
            } catch (IOException e) {
                // left behind: harmless, the lock is what counts
            }
            try {
                lock.release();
            } catch (IOException e) {
                // closing the channel releases it too
            }
            try {
                channel.close();
            } catch (IOException e) {
                // nothing more to do
            }
            HELD.remove(lockFile);
            if (!published) {
                removeIfEmpty(createdDirs);
            }
        }
    }

    /**
     * Checks that {@code out} may receive a bundle and locks it for this run; call it before any long work.
     * Refuses (with an {@link IOException} whose message names the folder and the reason) a path that is a
     * file, a folder that is not a bundle (see the class comment), and a folder another run is writing
     * ({@code "X: another run is writing this bundle (pid N)"}). Under the lock, repairs what an interrupted
     * earlier run left next to the folder and reports it in {@link Target#notes()}.
     */
    public static Target checkTarget(Path out) throws IOException {
        Path target = out.toAbsolutePath().normalize();
        if (target.getParent() == null || target.getFileName() == null) {
            throw new IOException(target + ": cannot hold a bundle");
        }
        refuseUnlessReplaceable(target);
        List<Path> created = createDirectories(target.getParent());
        Target t;
        try {
            t = lock(target, created);
        } catch (IOException | RuntimeException e) {
            removeIfEmpty(created);
            throw e;
        }
        try {
            refuseUnlessReplaceable(target);
            t.notes.addAll(recover(target));
            return t;
        } catch (IOException | RuntimeException e) {
            t.close();
            throw e;
        }
    }

    private static Target lock(Path target, List<Path> created) throws IOException {
        Path lockFile = target.getParent().toRealPath().resolve("." + target.getFileName() + ".lock");
        if (!HELD.add(lockFile)) {
            throw busy(target, PID);
        }
        try {
            for (int attempt = 0; attempt < 50; attempt++) {
                boolean existed = Files.exists(lockFile, LinkOption.NOFOLLOW_LINKS);
                Object before = fileKey(lockFile);
                FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.READ,
                        StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
                FileLock lk = null;
                try {
                    try {
                        lk = ch.tryLock();
                    } catch (OverlappingFileLockException e) {
                        lk = null;
                    }
                    if (lk == null) {
                        throw busy(target, readPid(ch));
                    }
                    // the holder removes the file before it unlocks: make sure the name still leads to the
                    // file locked here (a file made just now is checked on the next round)
                    Object after = fileKey(lockFile);
                    if (existed && Files.exists(lockFile, LinkOption.NOFOLLOW_LINKS)
                            && java.util.Objects.equals(before, after)) {
                        ch.truncate(0);
                        ch.write(ByteBuffer.wrap((PID + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
                        Target t = new Target(target, lockFile, ch, lk, created);
                        ch = null;
                        return t;
                    }
                } finally {
                    if (ch != null) {
                        if (lk != null) {
                            lk.release();
                        }
                        ch.close();
                    }
                }
            }
            throw new IOException(lockFile + ": could not be locked (it keeps being replaced)");
        } catch (IOException | RuntimeException e) {
            HELD.remove(lockFile);
            throw e;
        }
    }

    private static IOException busy(Path target, long pid) {
        return new IOException(target + ": another run is writing this bundle" + (pid > 0 ? " (pid " + pid + ")" : ""));
    }

    private static long readPid(FileChannel ch) {
        try {
            ByteBuffer b = ByteBuffer.allocate(32);
            ch.read(b, 0);
            return Long.parseLong(new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII).trim());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    private static Object fileKey(Path p) {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    /** Creates {@code dir} and its missing parents; returns the ones it created, outermost first. */
    private static List<Path> createDirectories(Path dir) throws IOException {
        List<Path> missing = new ArrayList<>();
        for (Path p = dir; p != null && !Files.exists(p); p = p.getParent()) {
            missing.add(0, p);
        }
        Files.createDirectories(dir);
        return missing;
    }

    private static void removeIfEmpty(List<Path> dirs) {
        for (int i = dirs.size() - 1; i >= 0; i--) {
            try {
                Files.deleteIfExists(dirs.get(i));
            } catch (IOException e) {
                return; // not empty (someone put something there) or not ours to remove
            }
        }
    }

    /** Throws unless {@code target} is missing, an empty folder or a bundle (see the class comment). */
    static void refuseUnlessReplaceable(Path target) throws IOException {
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!Files.isDirectory(target)) {
            throw new IOException(target + ": exists and is not a folder");
        }
        if (isEmpty(target)) {
            return;
        }
        List<String> problems = problems(target);
        if (!problems.isEmpty()) {
            throw new IOException(target + ": refusing to replace: not a bundle written by persephonee ("
                    + String.join("; ", problems) + ")");
        }
    }

    /** Why {@code dir} is not a bundle this class may replace; empty when it is one. */
    static List<String> problems(Path dir) {
        List<String> problems = new ArrayList<>();
        JsonObject cfg = readConfig(dir, problems);
        List<String> foreign = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.sorted().toList()) {
                String n = p.getFileName().toString();
                boolean isDir = Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS);
                if (!belongs(n, isDir, Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS), cfg)) {
                    foreign.add(isDir ? n + "/" : n);
                }
            }
        } catch (IOException e) {
            problems.add("cannot be listed: " + e.getMessage());
        }
        if (!foreign.isEmpty()) {
            problems.add("holds " + String.join(", ", foreign.subList(0, Math.min(6, foreign.size())))
                    + (foreign.size() > 6 ? " and " + (foreign.size() - 6) + " more" : ""));
        }
        return problems;
    }

    /** The bundle's config when it is one written here (or before the marker existed); else null, with why. */
    private static JsonObject readConfig(Path dir, List<String> problems) {
        Path f = dir.resolve(CONFIG);
        if (!Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
            problems.add(Files.exists(f, LinkOption.NOFOLLOW_LINKS) ? CONFIG + " is not a regular file" : "no " + CONFIG);
            return null;
        }
        try {
            if (Files.size(f) > (16 << 20)) {
                problems.add(CONFIG + " is too large to be an exit config");
                return null;
            }
            String text = Files.readString(f);
            if (text.isBlank()) {
                problems.add(CONFIG + " is empty");
                return null;
            }
            JsonElement e = JsonParser.parseString(text);
            if (e.isJsonObject()) {
                JsonObject o = e.getAsJsonObject();
                JsonElement format = o.get(FORMAT_FIELD);
                JsonElement schema = o.get("schema");
                if (format != null ? isString(format, FORMAT) : schema != null && isString(schema, ExitConfig.SCHEMA)) {
                    return o;
                }
            }
            problems.add(CONFIG + " is not a persephonee exit config");
        } catch (IOException e) {
            problems.add(CONFIG + " cannot be read (" + e.getMessage() + ")");
        } catch (JsonParseException e) {
            problems.add(CONFIG + " is not valid JSON");
        }
        return null;
    }

    private static boolean isString(JsonElement e, String value) {
        return e.isJsonPrimitive() && e.getAsJsonPrimitive().isString() && e.getAsString().equals(value);
    }

    /** True when an entry with this name and kind is one a bundle holds. */
    private static boolean belongs(String name, boolean isDir, boolean isFile, JsonObject cfg) {
        if (isDir) {
            return cfg != null && backboneNames(cfg).contains(name);
        }
        if (!isFile) {
            return false;
        }
        Matcher m = ATOMIC_TMP.matcher(name);
        String file = m.matches() ? m.group(1) : name;
        return BUNDLE_FILES.contains(file) || EXIT_WEIGHTS.matcher(file).matches()
                || cfg != null && referencedFiles(cfg).contains(file);
    }

    private static Set<String> backboneNames(JsonObject cfg) {
        Set<String> s = new java.util.HashSet<>();
        s.add(BACKBONE_DIR);
        String p = string(cfg.get("backbone"), "path");
        if (simpleName(p)) {
            s.add(p);
        }
        return s;
    }

    /** Top-level file names the config refers to (weights, BatchNorm statistics). */
    private static Set<String> referencedFiles(JsonObject cfg) {
        Set<String> s = new java.util.HashSet<>();
        JsonElement exits = cfg.get("exits");
        if (exits != null && exits.isJsonArray()) {
            for (JsonElement e : exits.getAsJsonArray()) {
                s.add(string(e, "weights"));
            }
        }
        s.add(string(cfg.get("finalExit"), "weights"));
        s.add(string(cfg.get("batchNorm"), "file"));
        s.removeIf(n -> !simpleName(n));
        return s;
    }

    private static String string(JsonElement obj, String field) {
        if (obj == null || !obj.isJsonObject()) {
            return null;
        }
        JsonElement v = obj.getAsJsonObject().get(field);
        return v != null && v.isJsonPrimitive() && v.getAsJsonPrimitive().isString() ? v.getAsString() : null;
    }

    private static boolean simpleName(String n) {
        return n != null && !n.isEmpty() && !n.equals(".") && !n.equals("..") && n.indexOf('/') < 0
                && n.indexOf('\\') < 0;
    }

    /** True when {@code dir} is a bundle with its config, backbone folder and every file its config names. */
    private static boolean complete(Path dir) {
        if (!problems(dir).isEmpty()) {
            return false;
        }
        JsonObject cfg = readConfig(dir, new ArrayList<>());
        String bbPath = string(cfg.get("backbone"), "path");
        if (!Files.isDirectory(dir.resolve(simpleName(bbPath) ? bbPath : BACKBONE_DIR), LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        for (String f : referencedFiles(cfg)) {
            if (!Files.isRegularFile(dir.resolve(f), LinkOption.NOFOLLOW_LINKS)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Repairs what interrupted runs left next to {@code target} (the caller holds its lock and has checked
     * that it is missing, empty or a bundle). Returns one note per repair.
     */
    private static List<String> recover(Path target) throws IOException {
        Path parent = target.getParent();
        String q = Pattern.quote(target.getFileName().toString());
        Pattern tmpNow = Pattern.compile("\\." + q + "\\.tmp-(\\d+)-\\d+");
        Pattern tmpBefore = Pattern.compile("\\." + q + "-\\d+");
        Pattern oldNow = Pattern.compile("\\." + q + "\\.old-(\\d+)-\\d+");
        Pattern oldBefore = Pattern.compile("\\." + q + "\\.old-\\d+");
        List<Path> temps = new ArrayList<>();
        List<Path> olds = new ArrayList<>();
        try (Stream<Path> s = Files.list(parent)) {
            for (Path p : s.sorted().toList()) {
                String n = p.getFileName().toString();
                if (!n.startsWith(".") || !Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                Matcher m;
                if ((m = tmpNow.matcher(n)).matches()) {
                    if (!liveOwner(m.group(1), p)) {
                        temps.add(p);
                    }
                } else if ((m = oldNow.matcher(n)).matches()) {
                    if (!liveOwner(m.group(1), p)) {
                        olds.add(p);
                    }
                } else if (tmpBefore.matcher(n).matches()) {
                    temps.add(p);
                } else if (oldBefore.matcher(n).matches()) {
                    olds.add(p);
                }
            }
        }
        List<String> notes = new ArrayList<>();
        boolean missing = !Files.exists(target, LinkOption.NOFOLLOW_LINKS)
                || Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS) && isEmpty(target);
        if (missing) {
            Path best = null;
            FileTime bestTime = null;
            for (Path o : olds) {
                if (complete(o)) {
                    FileTime ft = Files.getLastModifiedTime(o.resolve(CONFIG));
                    if (best == null || ft.compareTo(bestTime) > 0) {
                        best = o;
                        bestTime = ft;
                    }
                }
            }
            if (best != null) {
                Files.deleteIfExists(target);
                Files.move(best, target);
                olds.remove(best);
                notes.add(target + ": restored the earlier bundle from " + best.getFileName()
                        + ", where an interrupted run had moved it aside");
            }
        }
        for (Path o : olds) {
            long size = size(o);
            deleteTree(o);
            notes.add(target + ": removed " + o.getFileName() + " (" + mb(size)
                    + "), an earlier bundle an interrupted run had moved aside");
        }
        for (Path t : temps) {
            long size = size(t);
            deleteTree(t);
            notes.add(target + ": removed " + t.getFileName() + " (" + mb(size)
                    + "), an unfinished bundle left by an interrupted run");
        }
        return notes;
    }

    /** True when the folder is named after a running process other than this one (it may be in use). */
    private static boolean liveOwner(String pid, Path p) {
        try {
            long id = Long.parseLong(pid);
            return id != PID && AtomicFiles.ownerAlive(id, Files.getLastModifiedTime(p).toInstant());
        } catch (NumberFormatException | IOException e) {
            return true;
        }
    }

    private static long size(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    return 0;
                }
            }).sum();
        } catch (IOException | java.io.UncheckedIOException e) {
            return 0;
        }
    }

    private static String mb(long bytes) {
        return String.format(Locale.ROOT, "%.1f MB", bytes / (1024.0 * 1024.0));
    }

    /** Copies the backbone's files byte for byte (so its hash holds), or saves it when it has no folder. */
    private static void copyBackbone(Backbone bb, Path dir) throws IOException {
        Path src = bb.directory();
        if (src == null || bb.parametersSha256() == null) {
            BackboneIO.save(bb, dir);
            return;
        }
        Files.createDirectories(dir);
        for (String f : bb.files()) {
            Path to = dir.resolve(f);
            Files.createDirectories(to.getParent());
            Files.copy(src.resolve(f), to);
        }
        String now;
        if (bb.isTorchScript()) {
            now = BackboneIO.stageBundleSha256(dir, bb.stageBundle());
        } else {
            now = Hashes.sha256(dir.resolve(bb.spec().parameters.file));
        }
        if (!bb.parametersSha256().equalsIgnoreCase(now)) {
            throw new IOException(src + ": the backbone's weight files changed on disk since it was loaded");
        }
    }

    static ExitConfig.Head head(HeadSpec s) {
        ExitConfig.Head h = new ExitConfig.Head();
        h.type = s.type().id();
        h.channels = s.channels();
        h.convLayers = s.convLayers();
        h.hidden = s.hidden();
        return h;
    }

    private static boolean isEmpty(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    static void deleteTree(Path p) throws IOException {
        org.persephonee.core.util.FileTrees.delete(p);
    }
}
