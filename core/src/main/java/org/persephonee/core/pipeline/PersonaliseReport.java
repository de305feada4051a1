package org.persephonee.core.pipeline;

import com.google.gson.annotations.SerializedName;
import org.persephonee.core.eval.Cascade;
import org.persephonee.core.eval.LatencyProfile;
import org.persephonee.core.eval.OperatingPoint;
import org.persephonee.core.eval.PairedComparison;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.personalise.EvalPredictions;
import org.persephonee.core.personalise.PersonalisationResult;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What {@code personalise --json} prints, as typed records (Gson writes them in component order; a null component
 * is left out). Accuracies are fractions; without labels they are agreement with the teacher and
 * {@code generic_accuracy} is absent.
 */
public record PersonaliseReport(
        String backbone,
        @SerializedName("label_space") List<String> labelSpace,
        String metric,
        @SerializedName("generic_accuracy") Double genericAccuracy,
        @SerializedName("personalised_final_accuracy") double personalisedFinalAccuracy,
        String evaluation,
        @SerializedName("eval_images") int evalImages,
        @SerializedName("scored_images") int scoredImages,
        List<Exit> exits,
        @SerializedName("best_head") Head bestHead,
        @SerializedName("operating_point") Point operatingPoint,
        Timing timing,
        @SerializedName("feature_cache") Cache featureCache,
        @SerializedName("pseudo_label_accuracy") double pseudoLabelAccuracy,
        @SerializedName("latency_source") String latencySource,
        @SerializedName("latency_ms") Map<String, Latency> latencyMs,
        Map<String, Object> provenance,
        List<String> problems,
        String bundle) {

    /** True when the figures are accuracy on labels, false when they are agreement with the teacher. */
    public boolean onLabels() { return "accuracy".equals(metric); }

    /** One trained exit. */
    public record Exit(String stage, String head, double accuracy,
                       @SerializedName("validation_accuracy") Double validationAccuracy, long macs, long params,
                       @SerializedName("head_ms") double headMs, @SerializedName("cumulative_ms") double cumulativeMs) { }

    /** A head by its key ({@code stage:head}, or {@code final}) and its accuracy. */
    public record Head(String head, double accuracy) { }

    /** The operating point: the chosen cascade, what it was held to and where it was chosen. */
    public record Point(double accuracy, @SerializedName("latency_ms") double latencyMs, double macs, double speedup,
                        @SerializedName("mac_speedup") double macSpeedup,
                        @SerializedName("final_latency_ms") double finalLatencyMs,
                        @SerializedName("final_macs") double finalMacs,
                        @SerializedName("max_drop_points") double maxDropPoints,
                        List<Selected> exits, Reference reference,
                        @SerializedName("chosen_on") String chosenOn, Validation validation, String search,
                        @SerializedName("budget_points") double budgetPoints,
                        @SerializedName("cross_validated") CrossValidated crossValidated,
                        @SerializedName("final_share") double finalShare,
                        @SerializedName("interval_95") double[] interval95) { }

    /** An exit of the cascade, its threshold and the share of images leaving there. */
    public record Selected(String stage, String head, double threshold, double share) { }

    /** The head that set the bar (the best out of sample), on the evaluation images and in validation. */
    public record Reference(String head, double accuracy,
                            @SerializedName("validation_accuracy") Double validationAccuracy) { }

    /** The choice scored out of fold on the training images: the estimate a person without test images gets. */
    public record Validation(int images, @SerializedName("labelled_images") int labelledImages, int folds,
                             String scoring, double accuracy, @SerializedName("final_accuracy") double finalAccuracy,
                             double speedup, @SerializedName("mac_speedup") double macSpeedup,
                             @SerializedName("interval_95") double[] interval95) { }

    /** Thresholds picked on one half of the evaluation images and scored on the other, both ways. */
    public record CrossValidated(double accuracy, @SerializedName("reference_accuracy") double referenceAccuracy,
                                 @SerializedName("drop_points") double dropPoints, double speedup,
                                 @SerializedName("searches_tried") Map<String, Tried> searchesTried) { }

    /** One search's out-of-half drop and speed-up. */
    public record Tried(@SerializedName("drop_points") double dropPoints, double speedup) { }

    /** Seconds per step. */
    public record Timing(@SerializedName("decode_s") double decodeS, @SerializedName("batchnorm_s") double batchnormS,
                         @SerializedName("feature_cache_s") double featureCacheS,
                         @SerializedName("head_training_s") double headTrainingS,
                         @SerializedName("training_s") double trainingS,
                         @SerializedName("evaluation_s") double evaluationS,
                         @SerializedName("validation_s") double validationS,
                         @SerializedName("total_s") double totalS) { }

    /**
     * Where the feature cache lived and, with a feature memo, how many photos the backbone ran on (null fields
     * without one).
     */
    public record Cache(@SerializedName("heap_bytes") long heapBytes,
                        @SerializedName("spilled_bytes") long spilledBytes,
                        Integer photos, @SerializedName("backbone_ran_on") Integer backboneRanOn,
                        @SerializedName("memo_notes") List<String> memoNotes) { }

    private static Cache cache(PersonalisationResult r) {
        PersonalisationResult.CacheUse c = r.cacheUse();
        boolean memo = r.config().featureMemo() != null;
        return new Cache(c.heapBytes(), c.spilledBytes(), memo ? c.photos() : null, memo ? c.computed() : null,
                memo && !c.memoNotes().isEmpty() ? c.memoNotes() : null);
    }

    /** A block's median milliseconds and, where measured here, their interquartile range. */
    public record Latency(double median, Double iqr) { }

    /** The report of a run; {@code bundle} is where it was exported, or null. */
    public static PersonaliseReport of(PersonalisePipeline.Outcome o, Path bundle) {
        PersonalisationResult r = o.result();
        List<Exit> exits = new ArrayList<>();
        for (int j = 0; j < r.heads().size(); j++) {
            ExitHead h = r.heads().get(j);
            exits.add(new Exit(h.stage(), h.head().id(), r.exitAccuracy(j),
                    r.validation() != null ? r.validation().accuracy(r.validation().exit(j)) : null, h.macs(),
                    h.params(), o.profile().headMs(h), o.profile().cumulativeMs(o.evaluation().backbone(), h.stage())));
        }
        int best = r.bestHead();
        Head bestHead = new Head(key(r, best), best < 0 ? r.finalAccuracy() : r.exitAccuracy(best));
        Map<String, Latency> lat = new LinkedHashMap<>();
        LatencyProfile p = o.profile();
        p.stageMs().forEach((k, v) -> lat.put(k, new Latency(v, p.iqrMs().get(k))));
        p.headMs().forEach((k, v) -> lat.put(k, new Latency(v, p.iqrMs().get(k))));
        lat.put(LatencyProfile.CLASSIFIER, new Latency(p.classifierMs(), p.iqrMs().get(LatencyProfile.CLASSIFIER)));
        PersonalisationResult.Timing t = r.timing();
        return new PersonaliseReport(r.backboneId(), r.labelSpace().names(),
                r.scoredOnLabels() ? "accuracy" : "teacher_agreement",
                Double.isFinite(r.genericAccuracy()) ? r.genericAccuracy() : null, r.finalAccuracy(), r.evaluatedOn(),
                r.predictions().size(), r.predictions().scoredCount(), exits, bestHead, point(o),
                new Timing(t.decode(), t.batchNorm(), t.featureCache(), t.headTraining(), t.training(), t.evaluation(),
                        t.validation(), t.total()),
                cache(r), r.targets().pseudoLabelAccuracy(), p.source(),
                lat, r.provenance(), PersonalisePipeline.problems(o), bundle == null ? null : bundle.toString());
    }

    private static String key(PersonalisationResult r, int exit) {
        return exit < 0 ? "final" : r.heads().get(exit).key();
    }

    private static Point point(PersonalisePipeline.Outcome o) {
        PersonalisationResult r = o.result();
        OperatingPoint.Choice c = o.choice();
        List<Selected> sel = new ArrayList<>();
        for (int q = 0; q < c.cascade().exits().length; q++) {
            ExitHead h = r.heads().get(c.cascade().exits()[q]);
            sel.add(new Selected(h.stage(), h.head().id(), c.cascade().thresholds()[q], c.cascade().share()[q]));
        }
        OperatingPoint.Choice on = o.selection().chosenOn();
        Reference reference = null;
        if (c.reference() != null) {
            Double validated = null;
            if (on != null && on.reference() != null) {
                Cascade labelled = o.evaluation().validationLabelledCascade();
                validated = on.reference().exit() < 0 ? labelled.finalAccuracy()
                        : labelled.evaluate(new int[] {on.reference().exit()}, 0.0).accuracy();
            }
            reference = new Reference(key(r, c.reference().exit()), c.reference().accuracy(), validated);
        }
        Validation validation = null;
        String chosenOn = "the evaluation images themselves (no validation folds)";
        if (on != null) {
            EvalPredictions vp = r.validation();
            Cascade labelled = o.evaluation().validationLabelledCascade();
            String scoring = !vp.labelled() ? "agreement with the head the later exits' ensemble rates best (no labels)"
                    : vp.scoresUnlabelled() ? "labels where given, agreement elsewhere with the head the later "
                    + "exits' ensemble rates best, or the final exit unless that head beats it on the labels"
                    : "labels";
            // the estimate a user without test images gets: the chosen cascade on the out-of-fold labels
            double estimate = labelled.evaluate(on.cascade().exits(), on.cascade().thresholds()).accuracy();
            int nl = vp.labelled() ? vp.scoredCount() : 0;
            // how far that many labels pin the estimate down (it is chosen on them, so if anything optimistic)
            double[] interval = nl > 0 && !Double.isNaN(estimate)
                    ? PairedComparison.wilson(estimate, nl) : null;
            validation = new Validation(vp.size(), nl, r.config().validationFolds(), scoring, estimate,
                    labelled.finalAccuracy(), on.speedup(), on.macSpeedup(), interval);
            chosenOn = vp.size() + " training images, out of fold (" + r.config().validationFolds()
                    + " folds; scored by " + scoring + ", each class weighing the same)" + (r.scoredOutOfFold()
                    ? ": no test images, so the figures are these same predictions (the validation estimate)"
                    : ": the evaluation images only score the choice");
        }
        CrossValidated cv = null;
        if (o.selection().validation() != null) {
            OperatingPoint.Validation val = o.selection().validation();
            Map<String, Tried> tried = new LinkedHashMap<>();
            o.selection().tried().forEach((k, x) -> tried.put(k.display(), new Tried(x.dropPoints(), x.speedup())));
            cv = new CrossValidated(val.accuracy(), val.referenceAccuracy(), val.dropPoints(), val.speedup(), tried);
        }
        double[] share = c.cascade().share();
        // budget_points: the drop the search was allowed where it chose, less than max_drop_points when its picks
        // lost more than that out of half
        // how far the labelled evaluation images pin the accuracy down: the 95 % Wilson interval (null without labels)
        double[] interval = null;
        if (r.predictions().labelled() && !Double.isNaN(c.cascade().accuracy())) {
            int n = r.predictions().scoredCount();
            interval = PairedComparison.wilson(c.cascade().accuracy(), n);
        }
        return new Point(c.cascade().accuracy(), c.cascade().meanMs(), c.cascade().meanMacs(), c.speedup(),
                c.macSpeedup(), c.finalMs(), c.finalMacs(), c.maxDrop(), sel, reference, chosenOn, validation,
                o.selection().search().display(), o.selection().budget(), cv, share[share.length - 1], interval);
    }
}
