package org.persephonee.core.eval;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.personalise.PersonalisationResult;

import java.util.ArrayList;
import java.util.List;

/**
 * Ties a personalisation result to costs: builds the cost models (ms from a latency profile, MACs from
 * layer shapes), the cascade evaluator, the curves and the operating point.
 */
public final class Evaluation {
    private final Cascade cascade;
    private final List<String> exitNames;
    private final LatencyProfile profile;
    private final Backbone backbone;
    /** Out-of-fold predictions on the training images as choices score them ({@code forSelection}), or null. */
    private final Cascade validation;
    /** The same scored on their labels only (for reports), or null. */
    private final Cascade validationLabelled;
    /** Stages of the exits the final exit is averaged with (empty: the final exit alone). */
    private final List<String> finalEnsemble;

    /**
     * Prepares an evaluation.
     *
     * @param profile latency per stage and head; must cover the result's heads
     */
    public Evaluation(Backbone bb, PersonalisationResult r, LatencyProfile profile, Confidence confidence) {
        this.profile = profile;
        this.backbone = bb;
        List<ExitHead> heads = r.heads();
        int n = heads.size();
        double[] cumMs = new double[n];
        double[] headMs = new double[n];
        double[] cumMacs = new double[n];
        double[] headMacs = new double[n];
        exitNames = new ArrayList<>();
        for (int j = 0; j < n; j++) {
            ExitHead h = heads.get(j);
            cumMs[j] = profile.cumulativeMs(bb, h.stage());
            headMs[j] = profile.headMs(h);
            cumMacs[j] = bb.stage(h.stage()).cumulativeMacs();
            headMacs[j] = h.macs();
            exitNames.add(h.key());
            if (Double.isNaN(headMs[j])) {
                throw new IllegalArgumentException("the latency profile has no time for exit " + exitNames.get(j));
            }
        }
        double finalMs = r.finalHead() != null ? profile.headMs(r.finalHead()) : profile.classifierMs();
        if (Double.isNaN(finalMs)) {
            finalMs = profile.classifierMs();
        }
        double finalMacs = r.finalHead() != null ? r.finalHead().macs() : bb.classifierMacs();
        // a final exit averaged with late exits runs their heads too, for the images that reach it
        for (int j : r.finalEnsemble().members()) {
            finalMs += headMs[j];
            finalMacs += headMacs[j];
        }
        CostModel ms = new CostModel("ms", cumMs, headMs, profile.backboneMs(), finalMs);
        CostModel macs = new CostModel("MACs", cumMacs, headMacs, bb.totalMacs() - bb.classifierMacs(), finalMacs);
        this.cascade = new Cascade(r.predictions(), ms, macs, confidence);
        this.validation = r.validation() == null ? null
                : Cascade.classBalanced(r.validation().forSelection(), ms, macs,
                confidence);
        this.validationLabelled = r.validation() == null ? null : new Cascade(r.validation(), ms, macs, confidence);
        this.finalEnsemble = r.finalEnsembleStages();
    }

    /** Stages of the exits the final exit is averaged with (empty: the final exit alone). */
    public List<String> finalEnsemble() { return finalEnsemble; }

    /** The final exit's name for charts and tables: "personalised final exit", "+ late exits" when averaged. */
    public String finalExitName() {
        return finalEnsemble.isEmpty() ? "personalised final exit" : "personalised final exit + late exits";
    }

    /**
     * The cascade choices are made on: the out-of-fold predictions as scored for selection, each class weighing the
     * same ({@link Cascade#classBalanced}); null without out-of-fold predictions (then the evaluation images').
     */
    public Cascade selectionCascade() { return validation; }

    /** The cascade over the out-of-fold predictions scored by labels alone (for reports), or null. */
    public Cascade validationLabelledCascade() { return validationLabelled; }

    public Cascade cascade() { return cascade; }

    public LatencyProfile profile() { return profile; }

    public Backbone backbone() { return backbone; }

    /** Exit names ({@code stage:head}) in cascade order. */
    public List<String> exitNames() { return List.copyOf(exitNames); }

    private Evaluation(Cascade cascade, Cascade validationLabelled, List<String> finalEnsemble, List<String> exitNames,
                       LatencyProfile profile, Backbone bb) {
        this.cascade = cascade;
        this.validation = null;
        this.validationLabelled = validationLabelled;
        this.finalEnsemble = List.copyOf(finalEnsemble);
        this.exitNames = new ArrayList<>(exitNames);
        this.profile = profile;
        this.backbone = bb;
    }

    /**
     * An evaluation of predictions taken mid-training (live curves): exit heads are not built yet, so
     * their milliseconds are estimated from their MACs at the profile's milliseconds per stage MAC.
     *
     * @param placements the exits, in stage order, matching {@code preds.exits()}
     * @param classes personal classes
     * @param refitFinal whether the final exit is a re-fitted linear head (else the backbone's classifier)
     */
    public static Evaluation live(Backbone bb, List<org.persephonee.core.exits.ExitPlacement> placements, int classes,
                                  boolean refitFinal, LatencyProfile profile,
                                  org.persephonee.core.personalise.EvalPredictions preds, Confidence confidence) {
        return live(bb, placements, classes, refitFinal, profile, preds, null, List.of(), confidence);
    }

    /**
     * {@link #live} of a finished run kept on disk, with the training photos' out-of-fold predictions it chose on
     * ({@code validation}, or null): {@link #validationLabelledCascade()} then scores thresholds on them too; and the
     * stages of the exits its final exit was averaged with ({@code finalEnsemble}, empty for the final exit alone),
     * whose heads the final exit's cost includes as in the run.
     */
    public static Evaluation live(Backbone bb, List<org.persephonee.core.exits.ExitPlacement> placements, int classes,
                                  boolean refitFinal, LatencyProfile profile,
                                  org.persephonee.core.personalise.EvalPredictions preds,
                                  org.persephonee.core.personalise.EvalPredictions validation,
                                  List<String> finalEnsemble, Confidence confidence) {
        int n = placements.size();
        double msPerMac = profile.backboneMs() / Math.max(1, bb.totalMacs() - bb.classifierMacs());
        double[] cumMs = new double[n];
        double[] headMs = new double[n];
        double[] cumMacs = new double[n];
        double[] headMacs = new double[n];
        List<String> names = new ArrayList<>();
        for (int j = 0; j < n; j++) {
            org.persephonee.core.exits.ExitPlacement p = placements.get(j);
            org.persephonee.core.backbone.Stage st = bb.stage(p.stage());
            long macs = org.persephonee.core.backbone.LayerSpec.chainMacs(p.head().layers(st.outputShape(), classes),
                    st.outputShape());
            cumMs[j] = profile.cumulativeMs(bb, p.stage());
            cumMacs[j] = st.cumulativeMacs();
            headMacs[j] = macs;
            Double measured = profile.headMs().get(p.key());
            headMs[j] = measured != null ? measured : macs * msPerMac;
            names.add(p.key());
        }
        org.persephonee.core.backbone.Stage last = bb.stages().get(bb.stages().size() - 1);
        double finalMacs = refitFinal ? (long) last.outputShape()[0] * classes : bb.classifierMacs();
        double finalMs = profile.classifierMs();
        List<String> ensemble = finalEnsemble == null ? List.of() : finalEnsemble;
        for (int j = 0; j < n; j++) {
            if (ensemble.contains(placements.get(j).stage())) {
                finalMs += headMs[j];
                finalMacs += headMacs[j];
            }
        }
        CostModel ms = new CostModel("ms", cumMs, headMs, profile.backboneMs(), finalMs);
        CostModel mc = new CostModel("MACs", cumMacs, headMacs, bb.totalMacs() - bb.classifierMacs(), finalMacs);
        return new Evaluation(new Cascade(preds, ms, mc, confidence),
                validation == null ? null : new Cascade(validation, ms, mc, confidence), ensemble, names, profile, bb);
    }

    private volatile List<Curve> curves;

    /**
     * Every exit's curve and the cascade's, swept once and kept (call it off the UI thread first: a sweep
     * evaluates the cascade at every threshold).
     */
    public List<Curve> curves() {
        List<Curve> c = curves;
        if (c == null) {
            c = List.copyOf(ThresholdSweep.all(cascade, exitNames));
            curves = c;
        }
        return c;
    }

    /**
     * The fastest cascade within {@code maxDropPoints} of the best head, with the threshold search chosen by
     * split-half cross-validation ({@link OperatingPoint#select}). With out-of-fold predictions on the training
     * images everything is chosen on those, and the evaluation images only score the result (its
     * {@link OperatingPoint.Selection#chosenOn()} keeps the validation figures); without, on the evaluation
     * images themselves.
     *
     * @param seed picks the cross-validation halves
     */
    public OperatingPoint.Selection selection(double maxDropPoints, boolean byMacs, long seed) {
        if (validation == null) {
            return OperatingPoint.select(cascade, maxDropPoints, byMacs, seed);
        }
        return OperatingPoint.select(validation, maxDropPoints, byMacs, seed).scoredOn(cascade);
    }
}
