package org.persephonee.core.pipeline;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.eval.Confidence;
import org.persephonee.core.eval.Curve;
import org.persephonee.core.eval.Cascade;
import org.persephonee.core.eval.Evaluation;
import org.persephonee.core.eval.LatencyProfile;
import org.persephonee.core.eval.OperatingPoint;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.personalise.PersonalisationConfig;
import org.persephonee.core.personalise.PersonalisationException;
import org.persephonee.core.personalise.PersonalisationJob;
import org.persephonee.core.personalise.PersonalisationResult;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * Personalise, profile latency, evaluate and pick the operating point: the steps the CLI, the benchmark
 * and the lab share.
 */
public final class PersonalisePipeline {

    /**
     * Evaluation options.
     *
     * @param maxDropPoints accuracy the operating point may give up, percentage points
     * @param confidence confidence measure for leaving early
     * @param byMacs optimise MACs instead of measured milliseconds
     * @param deviceProfile a device latency profile JSON, or null to measure here
     * @param latencyRepeats timed runs per block when measuring
     */
    public record Options(double maxDropPoints, Confidence confidence, boolean byMacs, Path deviceProfile,
                          int latencyRepeats) {
        /** Accuracy points the operating point may give up against the best head, unless a person says otherwise. */
        public static final double DEFAULT_MAX_DROP = 1.0;

        public static Options defaults() {
            return new Options(DEFAULT_MAX_DROP, Confidence.MAX_SOFTMAX, false, null, 30);
        }
    }

    /**
     * Everything one run produced; close it to free the heads' native memory.
     *
     * @param result trained exits and predictions
     * @param profile latency per stage and head
     * @param evaluation cascade evaluator bound to the costs
     * @param choice the operating point
     * @param selection how the threshold search was chosen, with its split-half cross-validated estimate
     */
    public record Outcome(PersonalisationResult result, LatencyProfile profile, Evaluation evaluation,
                          OperatingPoint.Choice choice, OperatingPoint.Selection selection) implements AutoCloseable {
        @Override
        public void close() {
            result.close();
        }

        /** The curves of every exit and of the cascade. */
        public List<Curve> curves() { return evaluation.curves(); }
    }

    private PersonalisePipeline() { }

    /** Runs the job, then profiles and evaluates. */
    public static Outcome run(Backbone bb, PersonalDataset ds, PersonalisationConfig cfg, Options opt,
                              PersonalisationJob.Listener listener, BooleanSupplier cancelled)
            throws PersonalisationException, IOException {
        PersonalisationResult r = new PersonalisationJob(bb, ds, cfg).run(listener, cancelled);
        try {
            return evaluate(bb, r, opt, listener);
        } catch (IOException | RuntimeException e) {
            r.close();
            throw e;
        }
    }

    /** Profiles latency for a result and picks its operating point. */
    public static Outcome evaluate(Backbone bb, PersonalisationResult r, Options opt,
                                   PersonalisationJob.Listener listener) throws IOException {
        listener.onPhase(PersonalisationJob.Phase.EVALUATE, opt.deviceProfile() == null
                ? "Measuring latency per stage and exit at batch 1" : "Reading device profile " + opt.deviceProfile());
        List<ExitHead> heads = new ArrayList<>(r.heads());
        if (r.finalHead() != null) {
            heads.add(r.finalHead());
        }
        LatencyProfile profile = opt.deviceProfile() == null ? LatencyProfile.measure(bb, heads, opt.latencyRepeats())
                : LatencyProfile.load(opt.deviceProfile(), bb, heads);
        Evaluation ev = new Evaluation(bb, r, profile, opt.confidence());
        OperatingPoint.Selection sel = ev.selection(opt.maxDropPoints(), opt.byMacs(), r.config().seed());
        return new Outcome(r, profile, ev, sel.choice(), sel);
    }

    /**
     * Why this run's result should not be deployed, one plain sentence each; empty when nothing is wrong.
     * Judged on the labelled evaluation images when there are some, else on the labelled out-of-fold
     * training predictions: the operating point below the generic backbone (by more than the drop it was
     * allowed), or within 5 points of chance (one over the number of classes).
     */
    public static List<String> problems(Outcome o) {
        List<String> out = new ArrayList<>();
        PersonalisationResult r = o.result();
        double acc;
        String where;
        if (r.predictions().labelled()) {
            acc = o.choice().cascade().accuracy();
            where = "on " + r.evaluatedOn();
        } else if (o.selection().chosenOn() != null && r.validation() != null && r.validation().labelled()) {
            acc = o.evaluation().validationLabelledCascade().evaluate(o.choice().cascade().exits(),
                    o.choice().cascade().thresholds()).accuracy();
            where = "on the labelled training images, out of fold";
        } else {
            return out;
        }
        int k = r.labelSpace().size();
        double chance = 1.0 / k;
        double generic = r.genericAccuracy();
        if (Double.isFinite(generic) && r.predictions().labelled()
                && acc < generic - o.choice().maxDrop() / 100.0 - 1e-9) {
            out.add(String.format(java.util.Locale.ROOT, "personalisation made it worse: %.1f%% %s, the generic "
                    + "backbone gets %.1f%%", 100 * acc, where, 100 * generic));
        }
        if (acc < chance + 0.05) {
            out.add(String.format(java.util.Locale.ROOT, "the result is near chance: %.1f%% %s, chance with %d "
                    + "classes is %.1f%% (the inferred classes or the teacher are probably wrong: label some images)",
                    100 * acc, where, k, 100 * chance));
        }
        return out;
    }

    /** The report the CLI prints with {@code --json} (accuracies as fractions). */
    public static Map<String, Object> report(Outcome o, Path bundle) {
        PersonalisationResult r = o.result();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("backbone", r.backboneId());
        m.put("label_space", r.labelSpace().names());
        // without labels the figures are agreement with the teacher, and the generic accuracy is unknown (null)
        m.put("metric", r.scoredOnLabels() ? "accuracy" : "teacher_agreement");
        m.put("generic_accuracy", Double.isFinite(r.genericAccuracy()) ? r.genericAccuracy() : null);
        m.put("personalised_final_accuracy", r.finalAccuracy());
        m.put("evaluation", r.evaluatedOn());
        m.put("eval_images", r.data().evalSize());
        m.put("scored_images", r.predictions().scoredCount());
        List<Map<String, Object>> exits = new ArrayList<>();
        for (int j = 0; j < r.heads().size(); j++) {
            ExitHead h = r.heads().get(j);
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("stage", h.stage());
            e.put("head", h.head().id());
            e.put("accuracy", r.exitAccuracy(j));
            if (r.validation() != null) {
                e.put("validation_accuracy", r.validation().accuracy(r.validation().exit(j)));
            }
            e.put("macs", h.macs());
            e.put("params", h.params());
            e.put("head_ms", o.profile().headMs(h));
            e.put("cumulative_ms", o.profile().cumulativeMs(o.evaluation().backbone(), h.stage()));
            exits.add(e);
        }
        m.put("exits", exits);
        // the best single head on the evaluation images, for comparison with the operating point
        int best = r.bestHead();
        m.put("best_head", Map.of("head", best < 0 ? "final" : r.heads().get(best).stage() + ":"
                + r.heads().get(best).head().id(), "accuracy", best < 0 ? r.finalAccuracy() : r.exitAccuracy(best)));
        OperatingPoint.Choice c = o.choice();
        Map<String, Object> op = new LinkedHashMap<>();
        op.put("accuracy", c.cascade().accuracy());
        op.put("latency_ms", c.cascade().meanMs());
        op.put("macs", c.cascade().meanMacs());
        op.put("speedup", c.speedup());
        op.put("mac_speedup", c.macSpeedup());
        op.put("final_latency_ms", c.finalMs());
        op.put("final_macs", c.finalMacs());
        op.put("max_drop_points", c.maxDrop());
        List<Map<String, Object>> sel = new ArrayList<>();
        for (int p = 0; p < c.cascade().exits().length; p++) {
            ExitHead h = r.heads().get(c.cascade().exits()[p]);
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("stage", h.stage());
            e.put("head", h.head().id());
            e.put("threshold", c.cascade().thresholds()[p]);
            e.put("share", c.cascade().share()[p]);
            sel.add(e);
        }
        op.put("exits", sel);
        OperatingPoint.Reference ref = c.reference();
        if (ref != null) {
            Map<String, Object> rm = new LinkedHashMap<>();
            rm.put("head", ref.exit() < 0 ? "final" : r.heads().get(ref.exit()).stage() + ":"
                    + r.heads().get(ref.exit()).head().id());
            rm.put("accuracy", ref.accuracy());
            OperatingPoint.Choice on = o.selection().chosenOn();
            if (on != null && on.reference() != null) {
                Cascade labelled = o.evaluation().validationLabelledCascade();
                rm.put("validation_accuracy", on.reference().exit() < 0 ? labelled.finalAccuracy()
                        : labelled.evaluate(new int[] {on.reference().exit()}, 0.0).accuracy());
            }
            op.put("reference", rm);
        }
        OperatingPoint.Choice on = o.selection().chosenOn();
        if (on != null) {
            Map<String, Object> v = new LinkedHashMap<>();
            org.persephonee.core.personalise.EvalPredictions vp = r.validation();
            Cascade labelled = o.evaluation().validationLabelledCascade();
            boolean agreement = vp.forSelection() != vp;
            v.put("images", vp.size());
            v.put("labelled_images", vp.labelled() ? vp.scoredCount() : 0);
            v.put("folds", r.config().validationFolds());
            v.put("scoring", !vp.labelled() ? "agreement with the later exits' ensemble (no labels)"
                    : agreement ? "labels where given, agreement with the later exits' ensemble elsewhere (fewer than "
                    + org.persephonee.core.personalise.EvalPredictions.MIN_LABELLED_FOR_SELECTION + " labels)"
                    : "labels");
            // the estimate a user without test images gets: the chosen cascade on the out-of-fold labels
            v.put("accuracy", labelled.evaluate(on.cascade().exits(), on.cascade().thresholds()).accuracy());
            v.put("final_accuracy", labelled.finalAccuracy());
            v.put("speedup", on.speedup());
            v.put("mac_speedup", on.macSpeedup());
            op.put("chosen_on", vp.size() + " training images, out of fold (" + r.config().validationFolds()
                    + " folds; scored by " + v.get("scoring") + "): the evaluation images only score the choice");
            op.put("validation", v);
        } else {
            op.put("chosen_on", "the evaluation images themselves (no validation folds)");
        }
        op.put("search", o.selection().search().display());
        // the drop the search was allowed where it chose: less than max_drop_points when its picks lost more
        // than that out of half
        op.put("budget_points", o.selection().budget());
        if (o.selection().validation() != null) {
            // thresholds picked on one half of the evaluation images, scored on the other (both ways)
            OperatingPoint.Validation val = o.selection().validation();
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("accuracy", val.accuracy());
            v.put("reference_accuracy", val.referenceAccuracy());
            v.put("drop_points", val.dropPoints());
            v.put("speedup", val.speedup());
            Map<String, Object> tried = new LinkedHashMap<>();
            o.selection().tried().forEach((k, x) -> tried.put(k.display(), Map.of("drop_points", x.dropPoints(),
                    "speedup", x.speedup())));
            v.put("searches_tried", tried);
            op.put("cross_validated", v);
        }
        op.put("final_share", c.cascade().share()[c.cascade().share().length - 1]);
        m.put("operating_point", op);
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("decode_s", r.timing().decode());
        t.put("batchnorm_s", r.timing().batchNorm());
        t.put("feature_cache_s", r.timing().featureCache());
        t.put("head_training_s", r.timing().headTraining());
        t.put("training_s", r.timing().training());
        t.put("evaluation_s", r.timing().evaluation());
        t.put("validation_s", r.timing().validation());
        t.put("total_s", r.timing().total());
        m.put("timing", t);
        Map<String, Object> cache = new LinkedHashMap<>();
        cache.put("heap_bytes", r.cacheHeapBytes());
        cache.put("spilled_bytes", r.cacheSpilledBytes());
        m.put("feature_cache", cache);
        m.put("pseudo_label_accuracy", r.targets().pseudoLabelAccuracy());
        m.put("latency_source", o.profile().source());
        Map<String, Object> lat = new LinkedHashMap<>();
        o.profile().stageMs().forEach((k, v) -> lat.put(k, latency(v, o.profile().iqrMs().get(k))));
        o.profile().headMs().forEach((k, v) -> lat.put(k, latency(v, o.profile().iqrMs().get(k))));
        lat.put(LatencyProfile.CLASSIFIER, latency(o.profile().classifierMs(),
                o.profile().iqrMs().get(LatencyProfile.CLASSIFIER)));
        m.put("latency_ms", lat);
        m.put("provenance", r.provenance());
        m.put("problems", problems(o));
        m.put("bundle", bundle == null ? null : bundle.toString());
        return m;
    }

    /** A block's median milliseconds and, where measured here, their interquartile range. */
    private static Map<String, Object> latency(double median, Double iqr) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("median", median);
        if (iqr != null) {
            m.put("iqr", iqr);
        }
        return m;
    }
}
