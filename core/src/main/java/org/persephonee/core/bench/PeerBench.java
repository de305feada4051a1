package org.persephonee.core.bench;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.data.ImageImporter;
import org.persephonee.core.data.LabelSpace;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.personalise.LabelRegime;
import org.persephonee.core.personalise.PersonalisationConfig;
import org.persephonee.core.personalise.PersonalisationJob;
import org.persephonee.core.personalise.PersonalisationResult;
import org.persephonee.core.util.Vectors;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * @param home the project folder (its {@code tools/peer-personalise.py})
 * @param bbDir the TorchScript stage bundle
 * @param dir the persona's folder
 * @param epochs training epochs on both sides
 * @param repeats timed runs per side
 * @param seed seed of every run
 */
public record PeerBench(Path home, Path bbDir, Path dir, int epochs, int repeats, long seed) {
    /**
     * Peer bench: exit-only personalisation (auto exits, 10 % of the labels, seed 42) on a TorchScript stage
     * bundle, timed in this engine and in the plain-PyTorch script {@code tools/peer-personalise.py} on the same
     * bundle, images, heads, epochs, batch size, threads, oneDNN cap and OpenMP wait policy.
     */
    public Map<String, Object> run(PrintStream out, PrintStream err) throws Exception {
        Path script = home.resolve("tools").resolve("peer-personalise.py");
        Path python = Path.of("/usr/bin/python3");
        if (!Files.isRegularFile(script) || !Files.isExecutable(python)) {
            throw new IllegalArgumentException("the peer bench needs " + script + " and Debian's PyTorch (apt-get install "
                    + "python3-torch)");
        }
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException(dir + ": persona missing");
        }
        int threads = Runtime.getRuntime().availableProcessors();
        // both sides on the same threads: the adaptive policy could pick fewer for this engine
        boolean adaptiveBefore = org.persephonee.core.engine.Engines.adaptiveThreads();
        org.persephonee.core.engine.Engines.setAdaptiveThreads(false);
        int threadsBefore = org.persephonee.core.engine.Engines.setThreads(threads);
        double[] frozen = new double[repeats];
        double[] heads = new double[repeats];
        int images;
        double javaFinal;
        try (Backbone bb = BackboneIO.load(bbDir)) {
            PersonalDataset ds = new ImageImporter(new LabelSpace(bb.classNames()), bb.input())
                    .importFolder(dir, null, () -> false).dataset();
            PersonalisationConfig cfg = PersonalisationConfig.builder().setPlacements(ExitPlacement.auto(bb))
                    .optLabels(LabelRegime.parse("0.1")).optEpochs(epochs).optSeed(seed).optEvalEveryEpoch(false)
                    .build();
            err.println("bench: Java warm-up run ...");
            try (PersonalisationResult r = new PersonalisationJob(bb, ds, cfg).run(PersonalisationJob.SILENT,
                    () -> false)) {
                images = r.data().trainSize();
                javaFinal = r.finalAccuracy();
            }
            for (int k = 0; k < repeats; k++) {
                PersonalisationResult.Timing tm = BusyBench.timing(bb, ds, cfg);
                frozen[k] = tm.featureCache();
                heads[k] = tm.headTraining();
                err.printf(Locale.ROOT, "bench: Java run %d: frozen pass %.3f s, heads %.3f s%n", k + 1, frozen[k],
                        heads[k]);
            }
        } finally {
            org.persephonee.core.engine.Engines.setThreads(threadsBefore);
            org.persephonee.core.engine.Engines.setAdaptiveThreads(adaptiveBefore);
        }
        org.persephonee.core.engine.EngineGuard.Verdict v = org.persephonee.core.engine.EngineGuard.prepare();
        List<String> cmd = List.of(python.toString(), script.toString(), "--backbone", bbDir.toString(), "--data",
                dir.toString(), "--labels", "0.1", "--seed", Long.toString(seed), "--epochs", Integer.toString(epochs),
                "--threads", Integer.toString(threads), "--isa", v.cap() == null ? "none" : v.cap(), "--decode", "raw", "--mode",
                "batched", "--warmup", "1", "--repeats", Integer.toString(repeats), "--json");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD);
        for (String k : List.of("OMP_WAIT_POLICY", "LD_PRELOAD", "GOMP_SPINCOUNT")) {
            String val = org.persephonee.core.engine.EngineGuard.nativeGetenv(k);
            if (val != null) {
                pb.environment().put(k, val);
            }
        }
        err.println("bench: plain-PyTorch peer (" + script.getFileName() + ") ...");
        Process p = pb.start();
        String json = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (p.waitFor() != 0 || json.isBlank()) {
            throw new IllegalArgumentException("the plain-PyTorch peer failed (exit " + p.exitValue() + "): " + String.join(" ", cmd));
        }
        com.google.gson.JsonObject py = com.google.gson.JsonParser.parseString(json).getAsJsonObject();
        com.google.gson.JsonObject pt = py.getAsJsonObject("timing");
        double pyFrozen = pt.get("frozen_pass_s").getAsDouble();
        double pyHeads = pt.get("head_training_s").getAsDouble();
        int pyImages = py.get("train_images").getAsInt();
        double jf = Vectors.lowerMedian(frozen);
        double jh = Vectors.lowerMedian(heads);
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("backbone", bbDir.getFileName().toString());
        report.put("persona", dir.getFileName().toString());
        report.put("labels", "0.1");
        report.put("seed", seed);
        report.put("epochs", epochs);
        report.put("repeats", repeats);
        report.put("threads", threads);
        report.put("onednn_cap", v.cap());
        report.put("omp_wait_policy", org.persephonee.core.engine.EngineGuard.nativeGetenv("OMP_WAIT_POLICY"));
        report.put("train_images", pyImages);
        report.put("java_frozen_pass_s", jf);
        report.put("java_head_training_s", jh);
        report.put("java_frozen_pass_runs_s", frozen);
        report.put("java_head_training_runs_s", heads);
        report.put("java_final_accuracy", javaFinal);
        report.put("pytorch_frozen_pass_s", pyFrozen);
        report.put("pytorch_head_training_s", pyHeads);
        report.put("pytorch_final_accuracy", py.get("personalised_final_accuracy").getAsDouble());
        report.put("pytorch_version", py.get("torch").getAsString());
        report.put("frozen_pass_ratio", jf / pyFrozen);
        report.put("head_training_ratio", jh / pyHeads);
        out.printf(Locale.ROOT, "%s on %s, 10%% labels, auto exits, %d threads, oneDNN cap %s: medians of %d runs "
                        + "after a warm-up%n", bbDir.getFileName(), dir.getFileName(), threads,
                v.cap() == null ? "none" : v.cap(), repeats);
        out.printf(Locale.ROOT, "  %-22s frozen pass %6.3f s (%.3f ms/image)   head training %6.3f s   final %.1f%%%n",
                "this engine (DJL)", jf, 1000 * jf / Math.max(1, pyImages), jh, 100 * javaFinal);
        out.printf(Locale.ROOT, "  %-22s frozen pass %6.3f s (%.3f ms/image)   head training %6.3f s   final %.1f%%%n",
                "plain PyTorch " + py.get("torch").getAsString(), pyFrozen, 1000 * pyFrozen / Math.max(1, pyImages),
                pyHeads, 100 * py.get("personalised_final_accuracy").getAsDouble());
        out.printf(Locale.ROOT, "  %-22s frozen pass %.2fx                        head training %.2fx%n",
                "this / PyTorch", jf / pyFrozen, jh / pyHeads);
        if (images != pyImages) {
            err.printf(Locale.ROOT, "bench: note: the engine trained on %d images, the peer on %d%n", images, pyImages);
        }
        return report;
    }
}
