package org.persephonee.core.personalise;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.personalise.PersonalisationJob.Listener;
import org.persephonee.core.personalise.PersonalisationJob.Phase;
import org.persephonee.core.util.Vectors;

import java.util.List;
import java.util.Locale;
import java.util.function.BooleanSupplier;

/**
 * The final exit's part of a run. With labels the final classifier is re-fitted on the person's label space
 * (it then teaches the exits), and optionally a copy of the last stage(s) is re-trained under it from the cached
 * input of the first of them; after the cross-fitting, the copy is kept only when it beats the frozen stages
 * out of fold. Owns the re-fitted head and the copy until the run's result takes them ({@link #release()});
 * {@link #close()} frees whatever it still owns.
 */
final class FinalExitPhase implements AutoCloseable {

    /** Whether the re-trained stages were kept, and why. */
    record Choice(EvalPredictions validation, EvalPredictions predictions, String reason) { }

    private final Backbone backbone;
    private final PersonalisationConfig config;
    private final ExitTrainer trainer;
    private final FeatureCache cache;
    private final int nTrain;
    private final int nEval;
    private ExitHead head;
    private RetrainedStages retrained;
    /** The re-trained final exit's probabilities on the held-out images. */
    private float[][] retrainedEval;
    /** The re-fitted head's probabilities on the held-out images, over the frozen stages. */
    private float[][] refitEval;
    /** The re-fitted head's weights before the re-training moved them. */
    private float[][] refitWeights;
    private double evalSeconds;
    /** A resumed final exit's probabilities on the training photos before it trained, or null. */
    private float[][] trainBefore;

    FinalExitPhase(Backbone backbone, PersonalisationConfig config, ExitTrainer trainer, FeatureCache cache,
                   int nTrain, int nEval) {
        this.backbone = backbone;
        this.config = config;
        this.trainer = trainer;
        this.cache = cache;
        this.nTrain = nTrain;
        this.nEval = nEval;
    }

    /**
     * Fits the final classifier ({@link PersonalisationJob#FINAL_HEAD} on the last stage) to the labelled
     * training images; its log-probabilities replace every row of the teacher.
     *
     * @param checked the re-fit check's fold heads, or null
     */
    void refit(String lastStage, PreparedData data, PersonalLabelSpace space, float[][] teacher, Resumption resumption,
               RefitDecision.Folds checked, Listener listener, BooleanSupplier cancelled) {
        head = new ExitHead(new ExitPlacement(lastStage, PersonalisationJob.FINAL_HEAD),
                backbone.stage(lastStage).outputShape(), space.size());
        boolean warmed = resumption != null && resumption.warmStartFinal(head, trainer);
        if (warmed) {
            // what the earlier final exit says of the training photos, before it trains on the new ones
            trainBefore = HeadOutputs.probabilities(head, trainer.input(head, cache), 0, nTrain, cancelled);
        }
        // carried folds leave the deployed final exit to the folds' mean, but one the earlier run did not have (it
        // kept the backbone's classifier) is needed here first: it teaches the exits. Where the re-fit check has just
        // fitted the folds' heads, their mean is the final exit the cross-fitting ends with (it takes those heads):
        // it teaches from the start, and no head of its own is fitted to be replaced (0.025 s of a 0.25 s update)
        boolean fromCheck = resumption != null && resumption.keepsHeads() && !warmed && checked != null
                && trainer.startFrom(head, checked.mean());
        if (fromCheck) {
            listener.onPhase(Phase.TRAIN, "The final exit is the mean of the re-fit check's folds");
        } else if (resumption == null || !resumption.keepsHeads() || !warmed) {
            listener.onPhase(Phase.TRAIN, "Fitting the final exit to " + data.labelledUsed() + " labelled images");
            trainer.fit(List.of(head), Targets.labelsOnly(data, space), space, cache, true, listener, cancelled,
                    (epoch, l) -> { });
        }
        FeatureStore in = trainer.input(head, cache);
        float[][] p = HeadOutputs.probabilities(head, in, 0, nTrain, cancelled);
        long tEval = System.nanoTime();
        float[][] pe = HeadOutputs.probabilities(head, in, nTrain, nEval, cancelled);
        evalSeconds += seconds(tEval);
        p = Vectors.concatRows(p, pe);
        for (int i = 0; i < p.length; i++) {
            teacher[i] = HeadOutputs.log(p[i]);
        }
    }

    /**
     * Trains a copy of the last {@code stages} stages with the re-fitted head on top (from where the re-fit left
     * it), on the cached raw input of {@code inputStage}; together they are the final exit.
     */
    void retrain(int stages, String inputStage, Targets targets, float[][] teacher, int classes, Listener listener,
                 BooleanSupplier cancelled) {
        listener.onPhase(Phase.TRAIN, "Re-training the last " + (stages == 1 ? "stage" : stages + " stages")
                + " on " + targets.used() + " images");
        refitWeights = head.linear();
        refitEval = softmaxRows(teacher, nTrain, nEval);
        retrained = RetrainedStages.copyOf(backbone, stages);
        FeatureStore rin = cache.get(FeatureCache.Request.raw(inputStage));
        retrained.train(head, rin, targets, classes, config.epochs(), config.batchSize(), ExitTrainer.MIN_STEPS,
                config.temperature(), config.seed() * 1000 + 900, cancelled);
        long tEval = System.nanoTime();
        retrainedEval = retrained.probabilities(head, rin, nTrain, nEval, cancelled);
        evalSeconds += seconds(tEval);
    }

    /** The final exit's probabilities on the held-out images: the re-trained copy's, else the teacher's rows. */
    float[][] evalProbabilities(float[][] teacher) {
        return retrainedEval != null ? retrainedEval : softmaxRows(teacher, nTrain, nEval);
    }

    /**
     * Keeps the re-trained stages only when they beat the frozen ones under the re-fitted head out of fold
     * (tilted-phone, ~10 % labels: 69.1 % re-trained vs 70.0 % frozen on the test images); when dropped, the
     * head gets its re-fitted weights back and the validation and predictions are the frozen stages'.
     *
     * @param frozenOof the re-fitted head's out-of-fold probabilities over the frozen stages
     */
    Choice keepOrDrop(EvalPredictions validation, float[][] frozenOof, EvalPredictions predictions) {
        EvalPredictions frozen = new EvalPredictions(validation.stages(), validation.exits(), frozenOof,
                validation.truth(), validation.classes());
        double keptAcc = validation.accuracy(validation.finalExit());
        double frozenAcc = frozen.accuracy(frozen.finalExit());
        boolean keep = keptAcc > frozenAcc;
        String reason = String.format(Locale.ROOT, "%s: final exit out of fold %.3f re-trained, %.3f frozen",
                keep ? "kept" : "dropped", keptAcc, frozenAcc);
        if (keep) {
            return new Choice(validation, predictions, reason);
        }
        head.setLinear(refitWeights[0], refitWeights[1]);
        retrained.close();
        retrained = null;
        return new Choice(frozen, new EvalPredictions(predictions.stages(), predictions.exits(), refitEval,
                predictions.truth(), predictions.classes()), reason);
    }

    /** The re-fitted final exit, or null when the final classifier was not re-fitted. */
    ExitHead head() { return head; }

    /** The re-trained stages, or null when none were trained or they were dropped. */
    RetrainedStages retrained() { return retrained; }

    /** A warm-started final exit's probabilities on the training photos before it trained, or null. */
    float[][] trainBefore() { return trainBefore; }

    /** Seconds spent predicting the held-out images (evaluation, not training). */
    double evalSeconds() { return evalSeconds; }

    /** The result owns the head and the stages from now on. */
    void release() {
        head = null;
        retrained = null;
    }

    @Override
    public void close() {
        if (head != null) {
            head.close();
        }
        if (retrained != null) {
            retrained.close();
        }
        release();
    }

    static float[][] softmaxRows(float[][] logProbs, int from, int n) {
        float[][] out = new float[n][];
        for (int i = 0; i < n; i++) {
            out[i] = Vectors.softmax(logProbs[from + i], 1f);
        }
        return out;
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }
}
