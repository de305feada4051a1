package org.persephonee.core.export;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.backbone.BackboneSource;
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

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

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
 *     {@code exit-*.params}, {@code final.params}, {@code batchnorm-stats.bin}, the files the config names (the
 *     final exit's ensemble heads' {@code final-ensemble-*.params} among them), the
 *     lab's {@code run.json}, and the hidden temporaries an interrupted atomic write of those leaves.</li>
 * </ul>
 * Anything else is refused, naming the folder and why; nothing in it is touched. (The backbone folder's
 * contents are not inspected.)
 *
 * <p><b>One writer per bundle.</b> {@link #checkTarget} takes an operating-system lock on a sibling
 * {@code .<name>.lock} file (which holds the owner's pid) and keeps it until the {@link BundleTarget} is closed,
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
 * reported in {@link BundleTarget#notes()}.
 */
public final class BundleWriter {
    public static final String CONFIG = "exit-config.json";
    /** Value of the {@code format} field that marks a bundle written here. */
    public static final String FORMAT = "persephonee-bundle";
    static final String FORMAT_FIELD = "format";
    static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping()
            .serializeSpecialFloatingPointValues().create();
    static final long PID = ProcessHandle.current().pid();

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
        try (BundleTarget t = checkTarget(out)) {
            return write(t, bb, r, ev, choice);
        }
    }

    /**
     * Writes the bundle to a target checked and locked by {@link #checkTarget} (checked again now: the
     * folder may have changed during the work).
     *
     * @see #write(Path, Backbone, PersonalisationResult, Evaluation, OperatingPoint.Choice)
     */
    public static Path write(BundleTarget target, Backbone bb, PersonalisationResult r, Evaluation ev,
                             OperatingPoint.Choice choice) throws IOException {
        return BundlePublisher.publish(target, tmp -> {
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
                e.sha256 = writeWeights(tmp, e.weights, h);
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
                cfg.finalExit.sha256 = writeWeights(tmp, cfg.finalExit.weights, r.finalHead());
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
            int[] members = r.finalEnsemble().members();
            if (members.length > 0) {
                cfg.finalExit.ensemble = new java.util.ArrayList<>();
                for (int j : members) {
                    ExitHead h = r.heads().get(j);
                    ExitConfig.EnsembleHead e = new ExitConfig.EnsembleHead();
                    e.stage = h.stage();
                    e.headId = h.head().id();
                    e.head = head(h.head());
                    e.weights = "final-ensemble-" + h.stage() + ".params";
                    e.sha256 = writeWeights(tmp, e.weights, h);
                    e.macs = h.macs();
                    cfg.finalExit.ensemble.add(e);
                }
            }
            List<String> stages = new java.util.ArrayList<>();
            cfg.exits.forEach(e -> stages.add(e.stage));
            cfg.expected = ExitConfig.Expected.of(choice, stages, r.evaluatedOn(), ev.profile().source());
            cfg.provenance = GSON.toJsonTree(r.provenance()).getAsJsonObject();
            cfg.provenance.addProperty("backbone_dir", bb.directory() == null ? null : bb.directory().toString());
            // what personalise --resume carries on from: every exit's weights, the held-out predictions and the
            // milliseconds this choice was made with
            org.persephonee.core.personalise.ResumeState.write(tmp, r, new org.persephonee.core.personalise
                    .ResumeState.Latency(ev.profile().source(), ev.profile().stageMs(), ev.profile().headMs(),
                    ev.profile().classifierMs()));
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

    /** Writes a head's weights to {@code file} in the bundle folder; returns their SHA-256. */
    private static String writeWeights(Path tmp, String file, ExitHead h) throws IOException {
        byte[] w = h.saveWeights();
        AtomicFiles.write(tmp.resolve(file), w);
        return Hashes.sha256(w);
    }

    /** Writes {@code exit-config.json} with the {@code format} marker first. */
    static void writeConfig(Path dir, ExitConfig cfg) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty(FORMAT_FIELD, FORMAT);
        for (Map.Entry<String, JsonElement> e : GSON.toJsonTree(cfg).getAsJsonObject().entrySet()) {
            if (!e.getKey().equals(FORMAT_FIELD)) {
                o.add(e.getKey(), e.getValue());
            }
        }
        AtomicFiles.writeString(dir.resolve(CONFIG), GSON.toJson(o) + "\n");
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
        try (BundleTarget t = checkTarget(out)) {
            return subset(source, t, choice, stages);
        }
    }

    /** {@link #subset(Path, Path, OperatingPoint.Choice, List)} to a target checked and locked by {@link #checkTarget}. */
    public static Path subset(Path source, BundleTarget out, OperatingPoint.Choice choice, List<String> stages)
            throws IOException {
        ExitConfig src = BundleSubset.readExitConfig(source);
        ExitConfig.Expected from = src.expected == null ? new ExitConfig.Expected() : src.expected;
        return BundleSubset.write(source, src, out, stages, choice.cascade().thresholds(),
                ExitConfig.Expected.of(choice, stages, from.evaluatedOn, from.latencySource));
    }

    /**
     * A bundle with some of {@code source}'s exits and the given thresholds and figures (tests write
     * hand-made figures with it).
     */
    static Path subset(Path source, BundleTarget out, List<String> stages, double[] thresholds,
                       ExitConfig.Expected expected) throws IOException {
        return BundleSubset.write(source, BundleSubset.readExitConfig(source), out, stages, thresholds, expected);
    }

    /**
     * Checks {@code out} for a bundle to be written there, repairs what an interrupted earlier run left, and locks
     * it for this writer ({@link BundleTarget}); close the target when done.
     */
    public static BundleTarget checkTarget(Path out) throws IOException {
        return BundleTarget.check(out);
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
        if (bb.source() instanceof BackboneSource.TorchScriptStages t) {
            now = BackboneIO.stageBundleSha256(dir, t.bundle());
        } else {
            now = Hashes.sha256(dir.resolve(((BackboneSource.Declarative) bb.source()).spec().parameters.file));
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
}
