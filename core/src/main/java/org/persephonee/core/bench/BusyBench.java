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
 * @param bbDir backbone folder
 * @param personas folder holding the sample personas
 * @param epochs training epochs
 * @param repeats timed runs per policy and load
 * @param seed seed of every run
 */
public record BusyBench(Path bbDir, Path personas, int epochs, int repeats, long seed) {
    /**
     * Busy-machine bench: the night-owl personalisation (auto exits, ~10% labels) timed idle and with one
     * busy-loop process per core, under the adaptive thread policy and under the fixed one (libtorch's own
     * thread count everywhere), all in one run so that the figures share the machine's state.
     */
    public Map<String, Object> run(PrintStream out, PrintStream err) throws Exception {
        int loops = Runtime.getRuntime().availableProcessors();
        Map<String, double[]> times = new LinkedHashMap<>();
        boolean before = org.persephonee.core.engine.Engines.adaptiveThreads();
        try (Backbone bb = BackboneIO.load(bbDir)) {
            Path dir = personas.resolve("night-owl");
            if (!Files.isDirectory(dir)) {
                throw new IllegalArgumentException(dir + ": sample persona missing (run make-personas)");
            }
            PersonalDataset ds = new ImageImporter(new LabelSpace(bb.classNames()), bb.input())
                    .importFolder(dir, null, () -> false).dataset();
            int train = ds.labelled().size() + ds.unlabelled().size();
            LabelRegime lr = LabelRegime.parse(Double.toString(
                    Math.min(1.0, 0.10 * train / Math.max(1, ds.labelled().size()))));
            PersonalisationConfig cfg = PersonalisationConfig.builder().setPlacements(ExitPlacement.auto(bb))
                    .optLabels(lr).optEpochs(epochs).optSeed(seed).optEvalEveryEpoch(false).build();
            err.println("bench: warm-up run ...");
            timing(bb, ds, cfg);
            for (boolean loaded : new boolean[] {false, true}) {
                List<Process> hogs = new java.util.concurrent.CopyOnWriteArrayList<>();
                // Ctrl-C must not leave busy loops behind
                Thread killer = new Thread(() -> hogs.forEach(Process::destroyForcibly), "bench-busy-cleanup");
                Runtime.getRuntime().addShutdownHook(killer);
                try {
                    if (loaded) {
                        for (int i = 0; i < loops; i++) {
                            hogs.add(new ProcessBuilder("sh", "-c", "while :; do :; done").start());
                        }
                        Thread.sleep(500);
                    }
                    // the two policies alternate run by run, so that both see the same machine state
                    for (int k = 0; k < repeats; k++) {
                        for (boolean adaptive : new boolean[] {true, false}) {
                            org.persephonee.core.engine.Engines.setAdaptiveThreads(adaptive);
                            String key = (adaptive ? "adaptive" : "fixed") + (loaded ? "_busy" : "_idle");
                            PersonalisationResult.Timing tm = timing(bb, ds, cfg);
                            times.computeIfAbsent(key, x -> new double[repeats])[k] = tm.training();
                            err.printf(Locale.ROOT, "bench: %s run %d: training %.2f s (BatchNorm %.2f + cache %.2f "
                                    + "+ heads %.2f)%n", key, k + 1, tm.training(), tm.batchNorm(),
                                    tm.featureCache(), tm.headTraining());
                        }
                    }
                } finally {
                    hogs.forEach(Process::destroyForcibly);
                    for (Process h : hogs) {
                        h.waitFor();
                    }
                    Runtime.getRuntime().removeShutdownHook(killer);
                }
            }
        } finally {
            org.persephonee.core.engine.Engines.setAdaptiveThreads(before);
        }
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("persona", "night-owl");
        report.put("labels", "~10%");
        report.put("busy_loops", loops);
        report.put("repeats", repeats);
        report.put("seed", seed);
        report.put("epochs", epochs);
        times.forEach((k, v) -> report.put(k + "_training_s", Vectors.lowerMedian(v)));
        times.forEach((k, v) -> report.put(k + "_training_runs_s", v));
        out.printf(Locale.ROOT, "night-owl, ~10%% labels, auto exits: training time, median of %d runs%n", repeats);
        for (String policy : List.of("adaptive", "fixed")) {
            double idle = Vectors.lowerMedian(times.get(policy + "_idle"));
            double busy = Vectors.lowerMedian(times.get(policy + "_busy"));
            report.put(policy + "_busy_over_idle", busy / idle);
            out.printf(Locale.ROOT, "  %-9s threads: idle %6.2f s   %d busy loops %6.2f s   busy/idle %.2fx%n",
                    policy, idle, loops, busy, busy / idle);
        }
        return report;
    }

    static PersonalisationResult.Timing timing(Backbone bb, PersonalDataset ds, PersonalisationConfig cfg)
            throws Exception {
        try (PersonalisationResult r = new PersonalisationJob(bb, ds, cfg).run(PersonalisationJob.SILENT,
                () -> false)) {
            return r.timing();
        }
    }
}
