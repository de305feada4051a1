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

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Writes a deployment bundle: {@code exit-config.json}, the selected heads' weights, the final
 * classifier, adapted BatchNorm statistics if any, and a copy of the backbone. The bundle is assembled in
 * a temporary sibling folder and renamed into place, so a reader never sees half a bundle.
 */
public final class BundleWriter {
    public static final String CONFIG = "exit-config.json";
    static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping()
            .serializeSpecialFloatingPointValues().create();

    private BundleWriter() { }

    /**
     * Writes the bundle.
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
        return publish(out, tmp -> {
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
            } else {
                cfg.finalExit.kind = "backbone";
                cfg.finalExit.stage = bb.stages().get(bb.stages().size() - 1).name();
            }
            cfg.expected.put("accuracy", c.accuracy());
            cfg.expected.put("latency_ms", c.meanMs());
            cfg.expected.put("macs", c.meanMacs());
            cfg.expected.put("speedup", choice.speedup());
            cfg.expected.put("mac_speedup", choice.macSpeedup());
            cfg.expected.put("final_accuracy", choice.finalAccuracy());
            cfg.expected.put("final_latency_ms", choice.finalMs());
            cfg.expected.put("max_drop_points", choice.maxDrop());
            cfg.expected.put("exit_share", share(cfg, c));
            cfg.expected.put("evaluated_on", r.evaluatedOn());
            cfg.expected.put("latency_source", ev.profile().source());
            cfg.provenance.putAll(r.provenance());
            cfg.provenance.put("backbone_dir", bb.directory() == null ? null : bb.directory().toString());
            AtomicFiles.writeString(tmp.resolve(CONFIG), GSON.toJson(cfg) + "\n");
        });
    }

    /** Fills a folder. */
    interface Filler {
        void fill(Path tmp) throws IOException;
    }

    /**
     * Assembles a bundle in a temporary sibling folder and renames it to {@code out}: an existing bundle is
     * replaced in one step; a non-empty folder that is not a bundle is refused.
     */
    static Path publish(Path out, Filler filler) throws IOException {
        Path target = out.toAbsolutePath().normalize();
        if (Files.exists(target) && !Files.isDirectory(target)) {
            throw new IOException(target + ": exists and is not a folder");
        }
        if (Files.isDirectory(target) && !isEmpty(target) && !Files.isRegularFile(target.resolve(CONFIG))) {
            throw new IOException(target + ": refusing to replace a folder that is neither empty nor a bundle");
        }
        Path parent = target.getParent();
        Files.createDirectories(parent);
        Path tmp = org.persephonee.core.util.AtomicFiles.createTempDir(parent, "." + target.getFileName() + "-");
        try {
            filler.fill(tmp);
            Path old = null;
            if (Files.exists(target)) {
                old = parent.resolve("." + target.getFileName() + ".old-" + System.nanoTime());
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
            if (old != null) {
                deleteTree(old);
            }
            return target;
        } catch (IOException | RuntimeException e) {
            deleteTree(tmp);
            throw e;
        }
    }

    /**
     * Writes a bundle holding some of another bundle's exits, with new thresholds: how the lab exports
     * the operating point the user picked from a run it kept (all exits) in its workspace.
     *
     * @param source a bundle (typically with every trained exit)
     * @param stages stages of the exits to keep, in cascade order
     * @param thresholds one per kept exit
     * @param expected replaces the {@code expected} block (accuracy, latency, ...)
     */
    public static Path subset(Path source, Path out, java.util.List<String> stages, double[] thresholds,
                              Map<String, Object> expected) throws IOException {
        ExitConfig src;
        try {
            src = GSON.fromJson(Files.readString(source.resolve(CONFIG)), ExitConfig.class);
        } catch (com.google.gson.JsonParseException e) {
            throw new IOException(source.resolve(CONFIG) + ": not a readable exit config (" + e.getMessage() + ")");
        }
        java.util.List<ExitConfig.Exit> kept = new java.util.ArrayList<>();
        for (int i = 0; i < stages.size(); i++) {
            String st = stages.get(i);
            ExitConfig.Exit e = src.exits.stream().filter(x -> x.stage.equals(st)).findFirst()
                    .orElseThrow(() -> new IOException(source + ": has no exit at stage " + st));
            e.threshold = thresholds[i];
            kept.add(e);
        }
        src.exits = kept;
        src.expected = new LinkedHashMap<>(expected);
        return publish(out, tmp -> {
            copyTree(source.resolve(src.backbone.path), tmp.resolve(src.backbone.path));
            for (ExitConfig.Exit e : kept) {
                Files.copy(source.resolve(e.weights), tmp.resolve(e.weights));
            }
            if (src.finalExit.weights != null) {
                Files.copy(source.resolve(src.finalExit.weights), tmp.resolve(src.finalExit.weights));
            }
            if (src.batchNorm != null && src.batchNorm.adapted) {
                Files.copy(source.resolve(src.batchNorm.file), tmp.resolve(src.batchNorm.file));
            }
            AtomicFiles.writeString(tmp.resolve(CONFIG), GSON.toJson(src) + "\n");
        });
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path q = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(q);
                } else {
                    Files.copy(p, q);
                }
            }
        }
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

    private static Map<String, Double> share(ExitConfig cfg, CascadeResult c) {
        Map<String, Double> m = new LinkedHashMap<>();
        for (int p = 0; p < cfg.exits.size(); p++) {
            m.put(cfg.exits.get(p).stage, c.share()[p]);
        }
        m.put("final", c.share()[c.share().length - 1]);
        return m;
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
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        }
    }
}
