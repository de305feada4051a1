package org.persephonee.app.cli;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.data.ImageImporter;
import org.persephonee.core.data.LabelSpace;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.data.PersonalImage;
import org.persephonee.core.data.PersonaGenerator;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.personalise.EvalPredictions;
import org.persephonee.core.personalise.FullFineTune;
import org.persephonee.core.personalise.LabelRegime;
import org.persephonee.core.personalise.PersonalisationConfig;
import org.persephonee.core.personalise.PersonalisationJob;
import org.persephonee.core.personalise.PersonalisationResult;
import org.persephonee.core.pipeline.PersonalisePipeline;
import org.persephonee.core.util.AtomicFiles;
import org.persephonee.core.data.FashionMnist;
import org.persephonee.core.export.BundleWriter;
import org.persephonee.core.runtime.EarlyExitModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code bench}: for each sample persona and label regime (100%, ~10%, 0% of training images labelled),
 * compares the generic backbone, exit-only personalisation and full fine-tuning.
 */
@Command(name = "bench", customSynopsis = "persephonee bench [--quick | --busy | --peer] [--json FILE] [--markdown FILE] "
        + "[--backbone DIR] [--personas DIR] [--seed N]",
        description = "benchmark generic vs exit-only vs full fine-tuning on the sample personas")
public final class BenchCommand extends CliCommand {
    /** Stages re-trained in the bench's "exits + re-trained last stage" rows unless --retrain-last says. */
    static final int DEFAULT_RETRAIN = 2;

    @Option(names = "--quick", description = "5 epochs and the ~10%% regime only (under a minute)")
    boolean quick;

    @Option(names = "--busy", description = "night-owl, ~10%% labels, auto exits: training time idle and with one "
            + "busy-loop process per core (started by the bench), adaptive vs fixed thread policy")
    boolean busy;

    @Option(names = "--peer", description = "frozen pass and head training here vs tools/peer-personalise.py (plain "
            + "PyTorch) on the same stage bundle (default fmnist-mobilenetv2-ts) and persona (--persona, night-owl)")
    boolean peer;

    @Option(names = "--epochs", paramLabel = "N", description = "epochs for both methods (default 10; 5 with --quick)")
    Integer epochsOption;

    @Option(names = "--repeats", paramLabel = "N", description = "training runs per method and row; the median time "
            + "is reported (default 3; 5 with --busy or --peer)")
    Integer repeatsOption;

    @Option(names = "--retrain-last", paramLabel = "N", description = "also run exits + the last N stages re-trained "
            + "from the cache under the re-fitted final head (default ${DEFAULT-VALUE}; 0 leaves the row out)")
    int retrainLast = DEFAULT_RETRAIN;

    @Option(names = "--teacher", paramLabel = "final|ensemble",
            description = "who teaches the exits on unlabelled images (default "
                    + PersonaliseCommand.DEFAULT_TEACHER_NAME + ")")
    org.persephonee.core.personalise.Teacher teacher = PersonalisationConfig.DEFAULT_TEACHER;

    @Option(names = "--persona", paramLabel = "NAME", description = "only this sample persona (default both)")
    String only;

    @Option(names = "--regimes", paramLabel = "LIST",
            description = "only these label regimes, comma-separated from 100%%,~10%%,0%% (default all three)")
    String regimesOption;

    @Option(names = "--seed", paramLabel = "N", description = "default ${DEFAULT-VALUE}")
    long seed = PersonalisationConfig.DEFAULT_SEED;

    @Option(names = "--json", paramLabel = "FILE", description = "write every row and ratio as JSON")
    Path jsonFile;

    @Option(names = "--markdown", paramLabel = "FILE", description = "write the table as markdown")
    Path markdownFile;

    @Option(names = "--backbone", paramLabel = "DIR", description = "default sample-models/fmnist-resnet9")
    Path backboneOption;

    @Option(names = "--personas", paramLabel = "DIR", description = "default sample-data")
    Path personasOption;

    @Option(names = "--data", paramLabel = "DIR", description = "Fashion-MNIST IDX folder (default "
            + FashionMnist.DEBIAN_DIR_NAME + "): when present, each exported bundle is also run image by image on "
            + "100 images per class rendered from the reserved test images 8000-9999 with the persona's shift (never "
            + "written to the repo)")
    Path fmnist = FashionMnist.DEBIAN_DIR;

    @Override
    protected int run(PrintStream out, PrintStream err) throws Exception {
        Path home = Path.of(System.getProperty("persephonee.home", "."));
        Path bbDir = backboneOption != null ? backboneOption
                : home.resolve("sample-models").resolve(PretrainCommand.SAMPLE_ID);
        Path personas = personasOption != null ? personasOption : home.resolve("sample-data");
        if (busy) {
            return busy(bbDir, personas, out, err);
        }
        if (peer) {
            return peer(home, personas, out, err);
        }
        int repeats = Math.max(1, repeatsOption == null ? 3 : repeatsOption);
        int epochs = epochsOption != null ? epochsOption : quick ? 5 : PersonalisationConfig.DEFAULT_EPOCHS;
        List<String> regimes = quick ? List.of("~10%") : List.of("100%", "~10%", "0%");
        if (regimesOption != null) {
            regimes = List.of(regimesOption.split(","));
            for (String r : regimes) {
                if (!List.of("100%", "~10%", "0%").contains(r)) {
                    throw new CliException("--regimes: unknown regime '" + r + "' (100%, ~10% or 0%)");
                }
            }
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        List<Map<String, Object>> ratios = new ArrayList<>();
        long t0 = System.nanoTime();
        PersonaGenerator reserved = Files.isDirectory(fmnist)
                ? new PersonaGenerator(FashionMnist.load(fmnist, FashionMnist.Split.TEST), seed) : null;
        Path scratch = Files.createTempDirectory("persephonee-bench");
        try (Backbone bb = BackboneIO.load(bbDir)) {
            warmUp(bb, bbDir, personas, seed, err);
            for (PersonaGenerator.Persona persona : PersonaGenerator.samples()) {
                if (only != null && !only.equals(persona.name())) {
                    continue;
                }
                Path dir = personas.resolve(persona.name());
                if (!Files.isDirectory(dir)) {
                    throw new CliException(dir + ": sample persona missing (run make-personas)");
                }
                PersonalDataset given = new ImageImporter(new LabelSpace(bb.classNames()), bb.input())
                        .importFolder(dir, null, () -> false).dataset();
                Path independent = null;
                if (reserved != null) {
                    independent = scratch.resolve("reserved-" + persona.name());
                    reserved.renderReserved(persona, 100, independent);
                }
                for (String regime : regimes) {
                    PersonalDataset ds = regime.equals("100%") ? withTruth(given, personas, persona.name()) : given;
                    int train = ds.labelled().size() + ds.unlabelled().size();
                    LabelRegime lr = switch (regime) {
                        case "100%" -> LabelRegime.ALL;
                        case "0%" -> LabelRegime.NONE;
                        default -> LabelRegime.parse(Double.toString(
                                Math.min(1.0, 0.10 * train / Math.max(1, ds.labelled().size()))));
                    };
                    err.printf(Locale.ROOT, "bench: %s, labels %s ...%n", persona.name(), regime);
                    PersonalisationConfig cfg = PersonalisationConfig.builder().setPlacements(ExitPlacement.auto(bb))
                            .optLabels(lr).optEpochs(epochs).optSeed(seed).optEvalEveryEpoch(false)
                            .optTeacher(teacher).build();
                    PersonalisePipeline.Outcome run;
                    try {
                        run = PersonalisePipeline.run(bb, ds, cfg, new PersonalisePipeline.Options(1.0,
                                org.persephonee.core.eval.Confidence.MAX_SOFTMAX, false, null, quick ? 15 : 30),
                                PersonalisationJob.SILENT, () -> false);
                    } catch (org.persephonee.core.personalise.PersonalisationException e) {
                        err.println("  cannot personalise: " + e.getMessage());
                        Map<String, Object> ratio = new LinkedHashMap<>();
                        ratio.put("persona", persona.name());
                        ratio.put("labels", regime);
                        ratio.put("failed", e.getMessage());
                        ratios.add(ratio);
                        continue;
                    }
                    try (PersonalisePipeline.Outcome o = run) {
                        PersonalisationResult r = o.result();
                        double labelShare = r.targets().labelled() / (double) r.data().trainSize();
                        // training times: the median of `repeats` runs (the same seed gives the same model each time)
                        double[] exitTimes = new double[repeats];
                        PersonalisationResult.Timing[] timings = new PersonalisationResult.Timing[repeats];
                        timings[0] = r.timing();
                        for (int k = 1; k < repeats; k++) {
                            try (PersonalisationResult again = new PersonalisationJob(bb, ds, cfg).run(
                                    PersonalisationJob.SILENT, () -> false)) {
                                timings[k] = again.timing();
                            }
                        }
                        double[] validationTimes = new double[repeats];
                        for (int k = 0; k < repeats; k++) {
                            exitTimes[k] = timings[k].training();
                            validationTimes[k] = timings[k].validation();
                        }
                        double validationCost = median(validationTimes);
                        double exitCost = median(exitTimes);
                        PersonalisationResult.Timing typical = timings[0];
                        for (PersonalisationResult.Timing tm : timings) {
                            if (tm.training() == exitCost) {
                                typical = tm;
                            }
                        }
                        double fullMs = o.choice().finalMs();
                        double backboneMs = o.profile().backboneMs() + o.profile().classifierMs();
                        FullFineTune.Result ft = FullFineTune.run(bbDir, r, epochs, 0.01f, () -> false);
                        double[] fullTimes = new double[repeats];
                        fullTimes[0] = ft.trainingSeconds();
                        for (int k = 1; k < repeats; k++) {
                            fullTimes[k] = FullFineTune.run(bbDir, r, epochs, 0.01f, () -> false).trainingSeconds();
                        }
                        double fullCost = median(fullTimes);
                        String lab = String.format(Locale.ROOT, "%s (%.0f%%)", regime, 100 * labelShare);
                        rows.add(row(persona.name(), lab, "generic backbone", r.genericAccuracy(), 0, backboneMs, 1.0));
                        rows.add(row(persona.name(), lab, "personalised final exit", r.finalAccuracy(), exitCost,
                                fullMs, 1.0));
                        // the best single head on the test images (the bar the operating point must stay near)
                        int bestExit = r.bestHead();
                        double bestAcc = bestExit < 0 ? r.finalAccuracy() : r.exitAccuracy(bestExit);
                        double bestMs = bestExit < 0 ? fullMs : o.profile().cumulativeMs(bb, r.heads().get(bestExit)
                                .stage()) + o.profile().headMs(r.heads().get(bestExit));
                        Map<String, Object> best = row(persona.name(), lab, "best single head ("
                                + (bestExit < 0 ? "final" : r.heads().get(bestExit).stage()) + ")", bestAcc, exitCost,
                                bestMs, fullMs / bestMs);
                        rows.add(best);
                        Map<String, Object> ex = row(persona.name(), lab, "exit-only (PersEPhonEE)",
                                o.choice().cascade().accuracy(), exitCost, o.choice().cascade().meanMs(),
                                o.choice().speedup());
                        ex.put("exits", org.persephonee.core.pipeline.PersonaliseReport.of(o, null).operatingPoint());
                        rows.add(ex);
                        rows.add(row(persona.name(), lab, "full fine-tuning", ft.accuracy(), fullCost,
                                backboneMs, backboneMs / fullMs));
                        Map<String, Object> ens = ensembleRow(r, o, persona.name(), lab, "exit ensemble", exitCost);
                        if (ens != null) {
                            rows.add(ens);
                        }
                        Map<String, Object> retrainRatio = retrainLast > 0 ? retrainRows(bb, ds, cfg, retrainLast,
                                quick, repeats, persona.name(), lab, fullCost, ft.accuracy(), rows, err) : null;
                        Map<String, Object> ratio = new LinkedHashMap<>();
                        if (retrainRatio != null) {
                            ratio.put("retrained", retrainRatio);
                        }
                        ratio.put("persona", persona.name());
                        ratio.put("labels", lab);
                        if (independent != null) {
                            Path bundle = BundleWriter.write(scratch.resolve("bundle"), bb, r, o.evaluation(), o.choice());
                            ratio.put("independent", independent(bundle, independent));
                        }
                        ratio.put("training_cost_full_over_exit", fullCost / exitCost);
                        ratio.put("validation_s", validationCost);
                        ratio.put("training_cost_full_over_exit_with_validation", fullCost / (exitCost + validationCost));
                        ratio.put("best_head_accuracy", bestAcc);
                        ratio.put("operating_point_minus_best_head_points", 100 * (o.choice().cascade().accuracy()
                                - bestAcc));
                        if (o.selection().chosenOn() != null) {
                            Map<String, Object> val = new LinkedHashMap<>();
                            val.put("accuracy", o.evaluation().validationLabelledCascade().evaluate(
                                    o.choice().cascade().exits(), o.choice().cascade().thresholds()).accuracy());
                            val.put("speedup", o.selection().chosenOn().speedup());
                            val.put("labelled_images", r.validation().labelled() ? r.validation().scoredCount() : 0);
                            ratio.put("validation_estimate", val);
                        }
                        ratio.put("exit_only_training_runs_s", exitTimes);
                        ratio.put("full_ft_training_runs_s", fullTimes);
                        // cost at equal accuracy: how long full fine-tuning trains before it first matches exit-only
                        // (epoch times of the first run, scaled to the median run's total)
                        double reach = ft.secondsToReach(o.choice().cascade().accuracy()) * fullCost / ft.trainingSeconds();
                        ratio.put("full_ft_reached_exit_accuracy", !Double.isNaN(reach));
                        if (!Double.isNaN(reach)) {
                            ratio.put("full_ft_seconds_to_exit_accuracy", reach);
                            ratio.put("training_cost_at_equal_accuracy", reach / exitCost);
                        }
                        ratio.put("full_ft_epoch_accuracy", ft.epochAccuracy());
                        ratio.put("accuracy_gain_over_generic_points", 100 * (o.choice().cascade().accuracy()
                                - r.genericAccuracy()));
                        ratio.put("exit_minus_full_points", 100 * (o.choice().cascade().accuracy() - ft.accuracy()));
                        ratio.put("exit_only_seconds", Map.of("batchnorm", typical.batchNorm(), "feature_cache",
                                typical.featureCache(), "head_training", typical.headTraining()));
                        ratio.put("batchnorm", r.batchNorm().reason());
                        ratio.put("label_space", r.labelSpace().names());
                        ratios.add(ratio);
                        err.printf(Locale.ROOT, "  generic %.3f  final %.3f  exit-only %.3f at %.2fx  full FT %.3f  "
                                        + "cost ratio %.1fx%n", r.genericAccuracy(), r.finalAccuracy(),
                                o.choice().cascade().accuracy(), o.choice().speedup(), ft.accuracy(),
                                fullCost / exitCost);
                    }
                }
            }
        }
        org.persephonee.core.util.FileTrees.delete(scratch);
        String md = markdown(rows, ratios, epochs, quick);
        out.print(md);
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("rows", rows);
        json.put("ratios", ratios);
        json.put("config", Map.of("epochs", epochs, "seed", seed, "exits", "auto (grid head after every stage but "
                + "the last)", "max_drop_points", 1.0, "full_finetune", "SGD lr 0.01 momentum 0.9, cosine, same "
                + "epochs, targets and data", "quick", quick));
        json.put("seconds", (System.nanoTime() - t0) / 1e9);
        json.put("cores", Runtime.getRuntime().availableProcessors());
        if (jsonFile != null) {
            AtomicFiles.writeString(jsonFile, Json.of(json) + "\n");
        }
        if (markdownFile != null) {
            AtomicFiles.writeString(markdownFile, md);
        }
        err.printf(Locale.ROOT, "bench: done in %s%n", Durations.format((System.nanoTime() - t0) / 1e9));
        return 0;
    }

    /**
     * The "exits + re-trained last stage(s)" rows: the same run with the last {@code n} stages re-trained from
     * the cache under the re-fitted final head (exits on those stages left out), its final exit and operating
     * point, timed like exit-only ({@code repeats} runs, the median).
     *
     * @return the ratios against full fine-tuning, or null when it cannot run
     */
    private static Map<String, Object> retrainRows(Backbone bb, PersonalDataset ds, PersonalisationConfig cfg, int n,
                                                   boolean quick, int repeats, String persona, String lab,
                                                   double fullCost, double fullAcc, List<Map<String, Object>> rows,
                                                   PrintStream err) throws Exception {
        int first = bb.stages().size() - n;
        PersonalisationConfig rc = cfg.toBuilder().setPlacements(cfg.placements().stream()
                .filter(p -> bb.stage(p.stage()).index() < first).toList()).optRetrainLast(n).build();
        String what = "exits + re-trained " + (n == 1 ? "last stage" : "last " + n + " stages");
        PersonalisePipeline.Outcome run;
        try {
            run = PersonalisePipeline.run(bb, ds, rc, new PersonalisePipeline.Options(1.0,
                    org.persephonee.core.eval.Confidence.MAX_SOFTMAX, false, null, quick ? 15 : 30),
                    PersonalisationJob.SILENT, () -> false);
        } catch (org.persephonee.core.personalise.PersonalisationException e) {
            err.println("  " + what + ": cannot personalise: " + e.getMessage());
            return null;
        }
        try (PersonalisePipeline.Outcome o = run) {
            PersonalisationResult r = o.result();
            double[] train = new double[repeats];
            double[] val = new double[repeats];
            train[0] = r.timing().training();
            val[0] = r.timing().validation();
            for (int k = 1; k < repeats; k++) {
                try (PersonalisationResult again = new PersonalisationJob(bb, ds, rc).run(PersonalisationJob.SILENT,
                        () -> false)) {
                    train[k] = again.timing().training();
                    val[k] = again.timing().validation();
                }
            }
            double cost = median(train);
            double valCost = median(val);
            boolean done = r.retrained() != null;
            String note = done ? "" : r.retrainChoice() == null ? " (not re-trained: no labels)"
                    : " (frozen stages kept: re-trained ones lost out of fold)";
            rows.add(row(persona, lab, what + ": final exit" + note,
                    r.finalAccuracy(), cost, o.choice().finalMs(), 1.0));
            Map<String, Object> op = row(persona, lab, what + ": operating point", o.choice().cascade().accuracy(),
                    cost, o.choice().cascade().meanMs(), o.choice().speedup());
            op.put("exits", org.persephonee.core.pipeline.PersonaliseReport.of(o, null).operatingPoint());
            rows.add(op);
            Map<String, Object> ens = ensembleRow(r, o, persona, lab, what + ": ensemble", cost);
            if (ens != null) {
                rows.add(ens);
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("stages", n);
            m.put("retrained", done);
            m.put("choice", r.retrainChoice());
            m.put("final_accuracy", r.finalAccuracy());
            m.put("operating_point_accuracy", o.choice().cascade().accuracy());
            m.put("speedup", o.choice().speedup());
            m.put("training_s", cost);
            m.put("training_runs_s", train);
            m.put("validation_s", valCost);
            m.put("training_cost_full_over_retrained", fullCost / cost);
            m.put("training_cost_full_over_retrained_with_validation", fullCost / (cost + valCost));
            m.put("final_minus_full_points", 100 * (r.finalAccuracy() - fullAcc));
            m.put("operating_point_minus_full_points", 100 * (o.choice().cascade().accuracy() - fullAcc));
            err.printf(Locale.ROOT, "  %s: final %.3f  operating point %.3f at %.2fx  training %.2f s (+%.2f s "
                            + "validation)  cost ratio %.1fx (%.1fx with validation)%n", what, r.finalAccuracy(),
                    o.choice().cascade().accuracy(), o.choice().speedup(), cost, valCost, fullCost / cost,
                    fullCost / (cost + valCost));
            return m;
        }
    }

    /**
     * The exit ensemble yardstick (issue 13's "exit ensembles" candidate): the mean probabilities of the exits
     * from one on, with or without the final exit, the start chosen on the out-of-fold predictions of the
     * training images (ties to the later start); its accuracy on the test images. Latency: the whole backbone
     * and every head it averages (no early exit).
     *
     * @return the row, or null without validation predictions
     */
    private static Map<String, Object> ensembleRow(PersonalisationResult r, PersonalisePipeline.Outcome o,
                                                   String persona, String lab, String what, double trainS) {
        EvalPredictions val = r.validation();
        if (val == null) {
            return null;
        }
        EvalPredictions sel = val.forSelection();
        int n = r.heads().size();
        int bestJ = -1;
        boolean bestF = true;
        double bestVal = -1;
        for (int j = 0; j <= n; j++) {
            for (boolean withFinal : new boolean[] {false, true}) {
                if (j == n && !withFinal) {
                    continue;
                }
                double a = sel.accuracy(ensemble(sel, j, withFinal));
                if (a >= bestVal) {
                    bestVal = a;
                    bestJ = j;
                    bestF = withFinal;
                }
            }
        }
        EvalPredictions test = r.predictions();
        double acc = test.accuracy(ensemble(test, bestJ, bestF));
        double ms = o.profile().backboneMs() + (bestF ? o.choice().finalMs() - o.profile().backboneMs() : 0);
        for (int h = bestJ; h < n; h++) {
            ms += o.profile().headMs(r.heads().get(h));
        }
        String from = bestJ < n ? r.heads().get(bestJ).stage() + (bestF ? "..final" : "..last exit") : "final";
        Map<String, Object> row = row(persona, lab, what + " (" + from + ", chosen out of fold)", acc, trainS, ms,
                o.choice().finalMs() / ms);
        row.put("ensemble_validation_accuracy", bestVal);
        return row;
    }

    /** Mean probabilities of exits {@code from..} (and the final exit). */
    private static float[][] ensemble(EvalPredictions p, int from, boolean withFinal) {
        float[][] out = new float[p.size()][];
        for (int i = 0; i < p.size(); i++) {
            float[] a = new float[p.classes()];
            for (int h = from; h < p.exits().size(); h++) {
                for (int k = 0; k < a.length; k++) {
                    a[k] += p.exit(h)[i][k];
                }
            }
            if (withFinal) {
                for (int k = 0; k < a.length; k++) {
                    a[k] += p.finalExit()[i][k];
                }
            }
            out[i] = a;
        }
        return out;
    }

    /**
     * One short untimed run of both methods, so that the first measured row does not pay for class loading,
     * JIT compilation and libtorch's first calls.
     */
    private static void warmUp(Backbone bb, Path bbDir, Path personas, long seed, PrintStream err) throws Exception {
        PersonaGenerator.Persona first = PersonaGenerator.samples().get(0);
        Path dir = personas.resolve(first.name());
        if (!Files.isDirectory(dir)) {
            return;
        }
        err.println("bench: warming up (untimed)");
        PersonalDataset ds = new ImageImporter(new LabelSpace(bb.classNames()), bb.input())
                .importFolder(dir, null, () -> false).dataset();
        PersonalisationConfig cfg = PersonalisationConfig.builder().setPlacements(ExitPlacement.auto(bb))
                .optEpochs(1).optSeed(seed).optEvalEveryEpoch(false).build();
        try (PersonalisationResult r = new PersonalisationJob(bb, ds, cfg).run(PersonalisationJob.SILENT, () -> false)) {
            FullFineTune.run(bbDir, r, 1, 0.01f, () -> false);
        } catch (org.persephonee.core.personalise.PersonalisationException e) {
            err.println("  warm-up skipped: " + e.getMessage());
        }
    }

    /** The median, the lower one of an even count: always one of the measured runs. */
    private static double median(double[] v) {
        double[] c = v.clone();
        java.util.Arrays.sort(c);
        return c[(c.length - 1) / 2];
    }

    private static Map<String, Object> row(String persona, String labels, String method, double acc, double trainS,
                                           double ms, double speedup) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("persona", persona);
        m.put("labels", labels);
        m.put("method", method);
        m.put("accuracy", acc);
        m.put("training_s", trainS);
        m.put("latency_ms", ms);
        m.put("speedup", speedup);
        return m;
    }

    /**
     * Runs a bundle image by image on an independent labelled set: the cascade at its exported thresholds,
     * then the personalised final exit alone (thresholds above 1); accuracy and measured milliseconds.
     */
    static Map<String, Object> independent(Path bundle, Path data) throws Exception {
        Map<String, Object> m = new LinkedHashMap<>();
        try (EarlyExitModel model = EarlyExitModel.load(bundle)) {
            List<PersonalImage> images = new ImageImporter(new LabelSpace(model.backbone().classNames()), null)
                    .importFolder(data, null, () -> false).dataset().test();
            double[] thresholds = model.thresholds();
            double[] cascade = run(model, images);
            model.setThresholds(org.persephonee.core.eval.ThresholdSweep.OFF);
            double[] fin = run(model, images);
            m.put("images", images.size());
            m.put("cascade_accuracy", cascade[0]);
            m.put("cascade_median_ms", cascade[1]);
            m.put("final_accuracy", fin[0]);
            m.put("final_median_ms", fin[1]);
            m.put("measured_speedup", fin[1] / cascade[1]);
            m.put("thresholds", thresholds);
        }
        return m;
    }

    /** Accuracy and median milliseconds per image (after a short warm-up), on one thread like the latency profile. */
    private static double[] run(EarlyExitModel model, List<PersonalImage> images) throws Exception {
        int threads = org.persephonee.core.engine.Engines.setThreads(1);
        try {
            return runTimed(model, images);
        } finally {
            org.persephonee.core.engine.Engines.setThreads(threads);
        }
    }

    private static double[] runTimed(EarlyExitModel model, List<PersonalImage> images) throws Exception {
        for (int i = 0; i < Math.min(10, images.size()); i++) {
            model.classify(images.get(i).path());
        }
        double[] ms = new double[images.size()];
        int ok = 0;
        for (int i = 0; i < images.size(); i++) {
            EarlyExitModel.Prediction p = model.classify(images.get(i).path());
            ms[i] = p.millis();
            if (p.label().equals(images.get(i).label())) {
                ok++;
            }
        }
        java.util.Arrays.sort(ms);
        return new double[] {ok / (double) images.size(), ms[ms.length / 2]};
    }

    /** The persona with every unlabelled image given its true class (for the 100% regime only). */
    static PersonalDataset withTruth(PersonalDataset ds, Path personas, String name) throws Exception {
        Path csv = personas.resolve("truth").resolve(name + ".csv");
        if (!Files.isRegularFile(csv)) {
            throw new CliException(csv + ": missing; the 100% regime needs the true classes of unlabelled images");
        }
        Map<Path, String> truth = new HashMap<>();
        for (org.persephonee.core.data.LabelsCsv.Row row : org.persephonee.core.data.LabelsCsv.read(csv)) {
            truth.put(ds.root().resolve(row.path()).toAbsolutePath().normalize(), row.label());
        }
        List<PersonalImage> out = new ArrayList<>();
        for (PersonalImage i : ds.images()) {
            String t = truth.get(i.path());
            out.add(!i.labelled() && t != null ? i.withLabel(t) : i);
        }
        return new PersonalDataset(ds.root(), out);
    }

    @SuppressWarnings("unchecked")
    static String markdown(List<Map<String, Object>> rows, List<Map<String, Object>> ratios, int epochs, boolean quick) {
        StringBuilder sb = new StringBuilder();
        sb.append("| persona | labels | method | accuracy | training (s) | latency (ms) | speed-up |\n");
        sb.append("|---|---|---|---:|---:|---:|---:|\n");
        for (Map<String, Object> r : rows) {
            double t = (double) r.get("training_s");
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %.1f%% | %s | %.2f | %.2fx |%n", r.get("persona"),
                    r.get("labels"), r.get("method"), 100 * (double) r.get("accuracy"),
                    t == 0 ? "–" : String.format(Locale.ROOT, "%.1f", t), (double) r.get("latency_ms"),
                    (double) r.get("speedup")));
        }
        if (ratios.stream().anyMatch(r -> r.containsKey("independent"))) {
            sb.append("\nIndependent check: each exported bundle run image by image (batch 1, measured) on 100 images "
                    + "per class rendered from the reserved Fashion-MNIST test images 8000-9999 with the persona's "
                    + "shift:\n\n| persona | labels | cascade accuracy | personalised final accuracy | cascade ms "
                    + "(median) | final ms (median) | measured speed-up |\n|---|---|---:|---:|---:|---:|---:|\n");
            for (Map<String, Object> r : ratios) {
                Object o = r.get("independent");
                if (o instanceof Map<?, ?> ind) {
                    sb.append(String.format(Locale.ROOT, "| %s | %s | %.1f%% | %.1f%% | %.3f | %.3f | %.2fx |%n",
                            r.get("persona"), r.get("labels"), 100 * (double) ind.get("cascade_accuracy"),
                            100 * (double) ind.get("final_accuracy"), (double) ind.get("cascade_median_ms"),
                            (double) ind.get("final_median_ms"), (double) ind.get("measured_speedup")));
                }
            }
        }
        sb.append("\n| persona | labels | exit-only: test (validation estimate, labelled training images) | vs best "
                + "single head | validation s | training cost full / exit-only, with validation |\n"
                + "|---|---|---|---:|---:|---:|\n");
        for (Map<String, Object> r : ratios) {
            if (r.containsKey("failed") || !r.containsKey("best_head_accuracy")) {
                continue;
            }
            Object ve = r.get("validation_estimate");
            String val = ve instanceof Map<?, ?> v ? ((int) v.get("labelled_images") == 0
                    ? String.format(Locale.ROOT, "(no labels; %.2fx)", (double) v.get("speedup"))
                    : String.format(Locale.ROOT, "(%.1f%% at %.2fx, %s labelled)", 100 * (double) v.get("accuracy"),
                    (double) v.get("speedup"), v.get("labelled_images"))) : "(none)";
            sb.append(String.format(Locale.ROOT, "| %s | %s | %.1f%% %s | %+.1f pts | %.2f | %.1fx |%n", r.get("persona"),
                    r.get("labels"), 100 * ((double) r.get("best_head_accuracy")
                            + (double) r.get("operating_point_minus_best_head_points") / 100), val,
                    (double) r.get("operating_point_minus_best_head_points"), (double) r.get("validation_s"),
                    (double) r.get("training_cost_full_over_exit_with_validation")));
        }
        sb.append("\n| persona | labels | exit-only training s (BatchNorm + cache + heads) | training cost full / "
                + "exit-only | full FT time to exit-only accuracy | exit-only vs generic | exit-only vs full FT | BatchNorm "
                + "|\n|---|---|---|---:|---|---:|---:|---|\n");
        for (Map<String, Object> r : ratios) {
            if (r.containsKey("failed")) {
                sb.append(String.format(Locale.ROOT, "| %s | %s | – | – | – | – | – | cannot personalise: %s |%n",
                        r.get("persona"), r.get("labels"), r.get("failed")));
                continue;
            }
            Map<String, Object> parts = (Map<String, Object>) r.get("exit_only_seconds");
            double bnS = (double) parts.get("batchnorm");
            double cacheS = (double) parts.get("feature_cache");
            double headS = (double) parts.get("head_training");
            Object reach = r.get("full_ft_seconds_to_exit_accuracy");
            String reachText = reach == null ? "not reached in " + epochs + " epochs"
                    : String.format(Locale.ROOT, "%.1f s (%.1fx)", (double) reach,
                    (double) r.get("training_cost_at_equal_accuracy"));
            sb.append(String.format(Locale.ROOT, "| %s | %s | %.2f (%.2f + %.2f + %.2f) | %.1fx | %s | %+.1f pts | %+.1f pts "
                            + "| %s |%n", r.get("persona"), r.get("labels"), bnS + cacheS + headS, bnS, cacheS, headS,
                    (double) r.get("training_cost_full_over_exit"), reachText,
                    (double) r.get("accuracy_gain_over_generic_points"), (double) r.get("exit_minus_full_points"),
                    r.get("batchnorm")));
        }
        sb.append(String.format(Locale.ROOT, "%n%d epochs for both methods%s; training times are medians of repeated "
                + "runs after an untimed warm-up; \"full FT time to exit-only accuracy\" is measured after every epoch "
                + "on the test images, so it favours full fine-tuning (it stops at its best epoch as if it knew).%n",
                epochs, quick ? " (quick run)" : ""));
        return sb.toString();
    }

    /**
     * Busy-machine bench: the night-owl personalisation (auto exits, ~10% labels) timed idle and with one
     * busy-loop process per core, under the adaptive thread policy and under the fixed one (libtorch's own
     * thread count everywhere), all in one run so that the figures share the machine's state.
     */
    private int busy(Path bbDir, Path personas, PrintStream out, PrintStream err) throws Exception {
        int repeats = Math.max(1, repeatsOption == null ? 5 : repeatsOption);
        int epochs = epochsOption != null ? epochsOption : PersonalisationConfig.DEFAULT_EPOCHS;
        int loops = Runtime.getRuntime().availableProcessors();
        Map<String, double[]> times = new LinkedHashMap<>();
        boolean before = org.persephonee.core.engine.Engines.adaptiveThreads();
        try (Backbone bb = BackboneIO.load(bbDir)) {
            Path dir = personas.resolve("night-owl");
            if (!Files.isDirectory(dir)) {
                throw new CliException(dir + ": sample persona missing (run make-personas)");
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
        times.forEach((k, v) -> report.put(k + "_training_s", median(v)));
        times.forEach((k, v) -> report.put(k + "_training_runs_s", v));
        out.printf(Locale.ROOT, "night-owl, ~10%% labels, auto exits: training time, median of %d runs%n", repeats);
        for (String policy : List.of("adaptive", "fixed")) {
            double idle = median(times.get(policy + "_idle"));
            double busy = median(times.get(policy + "_busy"));
            report.put(policy + "_busy_over_idle", busy / idle);
            out.printf(Locale.ROOT, "  %-9s threads: idle %6.2f s   %d busy loops %6.2f s   busy/idle %.2fx%n",
                    policy, idle, loops, busy, busy / idle);
        }
        if (jsonFile != null) {
            AtomicFiles.writeString(jsonFile, Json.of(report) + "\n");
        }
        return 0;
    }

    private static PersonalisationResult.Timing timing(Backbone bb, PersonalDataset ds, PersonalisationConfig cfg)
            throws Exception {
        try (PersonalisationResult r = new PersonalisationJob(bb, ds, cfg).run(PersonalisationJob.SILENT,
                () -> false)) {
            return r.timing();
        }
    }

    /**
     * Peer bench: exit-only personalisation (auto exits, 10 % of the labels, seed 42) on a TorchScript stage
     * bundle, timed in this engine and in the plain-PyTorch script {@code tools/peer-personalise.py} on the same
     * bundle, images, heads, epochs, batch size, threads, oneDNN cap and OpenMP wait policy.
     */
    private int peer(Path home, Path personas, PrintStream out, PrintStream err) throws Exception {
        Path bbDir = backboneOption != null ? backboneOption
                : home.resolve("sample-models").resolve("fmnist-mobilenetv2-ts");
        Path dir = personas.resolve(only != null ? only : "night-owl");
        int repeats = Math.max(1, repeatsOption == null ? 5 : repeatsOption);
        int epochs = epochsOption != null ? epochsOption : PersonalisationConfig.DEFAULT_EPOCHS;
        Path script = home.resolve("tools").resolve("peer-personalise.py");
        Path python = Path.of("/usr/bin/python3");
        if (!Files.isRegularFile(script) || !Files.isExecutable(python)) {
            throw new CliException("the peer bench needs " + script + " and Debian's PyTorch (apt-get install "
                    + "python3-torch)");
        }
        if (!Files.isDirectory(dir)) {
            throw new CliException(dir + ": persona missing");
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
                PersonalisationResult.Timing tm = timing(bb, ds, cfg);
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
            throw new CliException("the plain-PyTorch peer failed (exit " + p.exitValue() + "): " + String.join(" ", cmd));
        }
        com.google.gson.JsonObject py = com.google.gson.JsonParser.parseString(json).getAsJsonObject();
        com.google.gson.JsonObject pt = py.getAsJsonObject("timing");
        double pyFrozen = pt.get("frozen_pass_s").getAsDouble();
        double pyHeads = pt.get("head_training_s").getAsDouble();
        int pyImages = py.get("train_images").getAsInt();
        double jf = median(frozen);
        double jh = median(heads);
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
        if (jsonFile != null) {
            AtomicFiles.writeString(jsonFile, Json.of(report) + "\n");
        }
        return 0;
    }
}
