package org.persephonee.core.bench;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.data.FashionMnist;
import org.persephonee.core.data.ImageImporter;
import org.persephonee.core.data.LabelSpace;
import org.persephonee.core.data.PersonaGenerator;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.data.PersonalImage;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.export.BundleWriter;
import org.persephonee.core.personalise.FullFineTune;
import org.persephonee.core.personalise.LabelRegime;
import org.persephonee.core.personalise.PersonalisationConfig;
import org.persephonee.core.personalise.PersonalisationJob;
import org.persephonee.core.personalise.PersonalisationResult;
import org.persephonee.core.personalise.Teacher;
import org.persephonee.core.pipeline.PersonalisePipeline;
import org.persephonee.core.util.Vectors;

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
 * The sample bench: for each sample persona and label regime (100 %, ~10 %, 0 % of the training images labelled,
 * and 0 % with the person's classes named), the generic backbone, the personalised final exit, the best single head,
 * exit-only personalisation (the operating point), full fine-tuning, the exit ensemble and the exits with the last
 * stages re-trained; medians of repeated training runs; and, where the Fashion-MNIST test images are present, each
 * exported bundle run image by image on images rendered from the reserved test images 8000-9999. Rows and ratios
 * are JSON-ready maps (docs/bench.json).
 *
 * @param bbDir backbone folder
 * @param personas folder holding the sample personas and their {@code truth/}
 * @param fmnist Fashion-MNIST IDX folder for the independent check (skipped when missing)
 * @param epochs training epochs for every method
 * @param repeats training runs per method and row (the median time is reported)
 * @param seed seed of every run
 * @param regimes label regimes, from 100%, ~10%, 0%, 0%+classes
 * @param only one persona, or null for both
 * @param retrainLast stages re-trained in the "exits + re-trained" rows, 0 to leave them out
 * @param teacher who teaches the exits on unlabelled images
 * @param quick fewer latency repeats (the CLI's --quick)
 */
public record SampleBench(Path bbDir, Path personas, Path fmnist, int epochs, int repeats, long seed,
                          List<String> regimes, String only, int retrainLast, Teacher teacher, boolean quick) {
    /**
     * The regimes the bench knows: every training photo labelled, a stratified tenth, none, and none with the person's
     * classes named ({@code 0%+classes}: the classes of the persona's labelled folder, as a person would name them).
     */
    public static final List<String> REGIMES = List.of("100%", "~10%", "0%", "0%+classes");

    /** Stages re-trained in the "exits + re-trained last stages" rows unless asked otherwise. */
    public static final int DEFAULT_RETRAIN = 2;

    public SampleBench {
        regimes = List.copyOf(regimes);
        for (String r : regimes) {
            if (!REGIMES.contains(r)) {
                throw new IllegalArgumentException("unknown regime '" + r + "' (100%, ~10%, 0% or 0%+classes)");
            }
        }
    }

    /**
     * The bench's JSON (rows, ratios, config, seconds, cores) and its markdown table.
     *
     * @param json JSON-ready map
     * @param markdown the table and the ratio tables
     */
    public record Result(Map<String, Object> json, String markdown) { }

    /**
     * Runs the bench, progress on {@code err}.
     *
     * @throws IllegalArgumentException when a sample persona or its truth file is missing
     */
    public Result run(PrintStream err) throws Exception {
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
                    throw new IllegalArgumentException(dir + ": sample persona missing (run make-personas)");
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
                        case "0%", "0%+classes" -> LabelRegime.NONE;
                        default -> LabelRegime.parse(Double.toString(
                                Math.min(1.0, 0.10 * train / Math.max(1, ds.labelled().size()))));
                    };
                    err.printf(Locale.ROOT, "bench: %s, labels %s ...%n", persona.name(), regime);
                    PersonalisationConfig cfg = PersonalisationConfig.builder().setPlacements(ExitPlacement.auto(bb))
                            .optLabels(lr).optEpochs(epochs).optSeed(seed).optEvalEveryEpoch(false)
                            .optTeacher(teacher)
                            .optClasses(regime.equals("0%+classes") ? given.labelled().stream()
                                    .map(i -> i.label()).distinct().toList() : List.of())
                            .build();
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
                        double validationCost = Vectors.lowerMedian(validationTimes);
                        double exitCost = Vectors.lowerMedian(exitTimes);
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
                        double fullCost = Vectors.lowerMedian(fullTimes);
                        String lab = String.format(Locale.ROOT, "%s (%.0f%%)", regime, 100 * labelShare);
                        rows.add(row(persona.name(), lab, "generic backbone", r.genericAccuracy(), 0, backboneMs, 1.0));
                        rows.add(row(persona.name(), lab, o.evaluation().finalExitName(), r.finalAccuracy(), exitCost,
                                fullMs, 1.0));
                        // the best single head on the test images (the bar the operating point must stay near)
                        int bestExit = r.bestHead();
                        double bestAcc = bestExit < 0 ? r.finalAccuracy() : r.exitAccuracy(bestExit);
                        double bestMs = bestExit < 0 ? fullMs : o.profile().cumulativeMs(bb, r.heads().get(bestExit)
                                .stage()) + o.profile().headMs(r.heads().get(bestExit));
                        Map<String, Object> best = row(persona.name(), lab, "best single head ("
                                + (bestExit < 0 ? o.evaluation().finalEnsemble().isEmpty() ? "final" : "final + late exits"
                                : r.heads().get(bestExit).stage()) + ")", bestAcc, exitCost,
                                bestMs, fullMs / bestMs);
                        rows.add(best);
                        Map<String, Object> ex = row(persona.name(), lab, "exit-only (PersEPhonEE)",
                                o.choice().cascade().accuracy(), exitCost, o.choice().cascade().meanMs(),
                                o.choice().speedup());
                        ex.put("exits", org.persephonee.core.pipeline.PersonaliseReport.of(o, null).operatingPoint());
                        // re-fitted on the labels or the backbone's classifier kept, decided out of fold
                        ex.put("refit_choice", r.refitChoice());
                        rows.add(ex);
                        rows.add(row(persona.name(), lab, "full fine-tuning", ft.accuracy(), fullCost,
                                backboneMs, backboneMs / fullMs));
                        Map<String, Object> ens = GapRows.ensembleRow(r, o, persona.name(), lab, "exit ensemble", exitCost);
                        if (ens != null) {
                            rows.add(ens);
                        }
                        Map<String, Object> retrainRatio = retrainLast > 0 ? GapRows.retrainRows(bb, ds, cfg, retrainLast,
                                quick, repeats, persona.name(), lab, fullCost, ft.accuracy(), rows, err) : null;
                        Map<String, Object> ratio = new LinkedHashMap<>();
                        if (retrainRatio != null) {
                            ratio.put("retrained", retrainRatio);
                        }
                        ratio.put("persona", persona.name());
                        ratio.put("labels", lab);
                        if (independent != null) {
                            Path bundle = BundleWriter.write(scratch.resolve("bundle"), bb, r, o.evaluation(), o.choice());
                            ratio.put("independent", ReservedCheck.run(bundle, independent));
                        }
                        ratio.put("training_cost_full_over_exit", fullCost / exitCost);
                        ratio.put("validation_s", validationCost);
                        ratio.put("training_cost_full_over_exit_with_validation", fullCost / (exitCost + validationCost));
                        ratio.put("best_head_accuracy", bestAcc);
                        ratio.put("operating_point_minus_best_head_points", 100 * (o.choice().cascade().accuracy()
                                - bestAcc));
                        // image by image on the same test images: could that gap be noise? (exact McNemar)
                        var cas = o.evaluation().cascade();
                        ratio.put("operating_point_vs_best_head_p", org.persephonee.core.eval.PairedComparison.of(
                                cas.rightPerImage(o.choice().cascade().exits(), o.choice().cascade().thresholds()),
                                bestExit < 0 ? cas.rightPerImage(new int[0], new double[0])
                                        : cas.rightPerImage(new int[] {bestExit}, new double[] {0.0})).pValue());
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
        String md = BenchMarkdown.of(rows, ratios, epochs, quick);
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("rows", rows);
        json.put("ratios", ratios);
        json.put("config", Map.of("epochs", epochs, "seed", seed, "exits", "auto (grid head after every stage but "
                + "the last)", "max_drop_points", 1.0, "full_finetune", "SGD lr 0.01 momentum 0.9, cosine, same "
                + "epochs, targets and data", "quick", quick));
        json.put("seconds", (System.nanoTime() - t0) / 1e9);
        json.put("cores", Runtime.getRuntime().availableProcessors());
        return new Result(json, md);
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

    static Map<String, Object> row(String persona, String labels, String method, double acc, double trainS,
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

    /** The persona with every unlabelled image given its true class (for the 100% regime only). */
    public static PersonalDataset withTruth(PersonalDataset ds, Path personas, String name) throws Exception {
        Path csv = personas.resolve("truth").resolve(name + ".csv");
        if (!Files.isRegularFile(csv)) {
            throw new IllegalArgumentException(csv + ": missing; the 100% regime needs the true classes of unlabelled images");
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
}
