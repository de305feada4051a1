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
        PersonalisationResult r;
        try {
            r = new PersonalisationJob(bb, ds, cfg).run(listener, cancelled);
        } catch (org.persephonee.core.engine.NumericGuard.NonFiniteException e) {
            // a NaN at one training step that the same run, repeated, did not meet: seen on an Intel AVX-512/AMX CPU
            // and on an AMD Zen 4. Its cause was found on 2026-12-06 (scalars of the loss that autograd kept, in Java
            // buffers the garbage collector freed: engine.Tensors) and fixed; repeating once stays as a safeguard.
            // The run is deterministic, so a repeat tells a passing glitch (it finishes) from one the data or the
            // engine makes every time (it stops again, with the same message); nothing of the failed attempt is kept
            System.err.println("persephonee: " + e.getMessage().split("; ")[0] + "; running it once more");
            r = new PersonalisationJob(bb, ds, cfg).run(listener, cancelled);
        }
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
        List<ExitHead> heads = new ArrayList<>(r.heads());
        if (r.finalHead() != null) {
            heads.add(r.finalHead());
        }
        LatencyProfile kept = opt.deviceProfile() == null ? keptProfile(bb, r, heads) : null;
        listener.onPhase(PersonalisationJob.Phase.EVALUATE, opt.deviceProfile() != null
                ? "Reading device profile " + opt.deviceProfile() : kept != null
                ? "Nothing new since the last run: choosing with the milliseconds it chose with"
                : "Measuring latency per stage and exit at batch 1");
        LatencyProfile profile = opt.deviceProfile() != null ? LatencyProfile.load(opt.deviceProfile(), bb, heads)
                : kept != null ? kept : LatencyProfile.measure(bb, heads, opt.latencyRepeats());
        Evaluation ev = new Evaluation(bb, r, profile, opt.confidence());
        OperatingPoint.Selection sel = ev.selection(opt.maxDropPoints(), opt.byMacs(), r.config().seed());
        return new Outcome(r, profile, ev, sel.choice(), sel);
    }

    /** How a profile kept from the last run names its source (once, however many runs keep it). */
    static final String KEPT_SOURCE = "the last run's milliseconds (nothing new since): ";

    /**
     * The latency profile the earlier run chose with, when this run resumed from it with nothing new (the same photos,
     * labels, exits and settings: its heads were kept untrained) and that profile covers every stage and head: the
     * same run then gives the same answer, where measuring anew let the timer's noise move the operating point.
     * Null otherwise (the run measures).
     */
    static LatencyProfile keptProfile(Backbone bb, PersonalisationResult r, List<ExitHead> heads) {
        org.persephonee.core.personalise.ResumeState state = r.config().resume();
        if (state == null || r.resumed() == null || r.resumed().trained() || state.latency() == null) {
            return null;
        }
        org.persephonee.core.personalise.ResumeState.Latency l = state.latency();
        if (l.stages() == null || l.heads() == null || l.source() == null) {
            return null;
        }
        for (org.persephonee.core.backbone.Stage s : bb.stages()) {
            if (!(l.stages().getOrDefault(s.name(), -1.0) >= 0)) {
                return null;
            }
        }
        for (ExitHead h : heads) {
            if (!(l.heads().getOrDefault(h.key(), -1.0) >= 0)) {
                return null;
            }
        }
        String source = l.source().startsWith(KEPT_SOURCE) ? l.source() : KEPT_SOURCE + l.source();
        return LatencyProfile.of(source, l.stages(), l.heads(), l.classifier());
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
}
