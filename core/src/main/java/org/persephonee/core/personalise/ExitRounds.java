package org.persephonee.core.personalise;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.personalise.PersonalisationJob.Listener;
import org.persephonee.core.personalise.PersonalisationJob.Phase;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * The exits' training in a run: every head learns on the cache from the person's labels and the teacher, in
 * one round or, with the late-ensemble teacher, in two rounds sharing the epochs (the first gets the larger half;
 * fresh exits are then taught by the first round's late ensemble). Live epochs run on through both rounds, so
 * curves and progress never step back; each goes to the listener with predictions on the held-out images, whose
 * time counts as evaluation. The heads live in a list the caller owns and closes.
 */
final class ExitRounds {

    /** What the kept exits learnt from, their last predictions on the held-out images, and the evaluation time. */
    record Outcome(Targets targets, EvalPredictions predictions, double evalSeconds) { }

    private final Backbone backbone;
    private final PersonalisationConfig config;
    private final ExitTrainer trainer;
    private final FeatureCache cache;
    private final int nTrain;
    private final int[] evalTruth;
    /** The final exit's probabilities on the held-out images: it is fixed while the exits train. */
    private final float[][] finalEval;
    private final ExitHead finalHead;
    private double evalSeconds;
    private EvalPredictions last;

    ExitRounds(Backbone backbone, PersonalisationConfig config, ExitTrainer trainer, FeatureCache cache, int nTrain,
               int[] evalTruth, float[][] finalEval, ExitHead finalHead) {
        this.backbone = backbone;
        this.config = config;
        this.trainer = trainer;
        this.cache = cache;
        this.nTrain = nTrain;
        this.evalTruth = evalTruth;
        this.finalEval = finalEval;
        this.finalHead = finalHead;
    }

    /**
     * Trains the heads in {@code heads} (one per placement of {@code ordered}, in that order); a second round
     * replaces them there with fresh ones and closes the first round's.
     *
     * @param oneRound one round of all the epochs whatever the teacher (a resumed run: its teacher is already the
     *                 late ensemble of the heads it starts from)
     */
    Outcome train(List<ExitHead> heads, List<ExitPlacement> ordered, PreparedData data, PersonalLabelSpace space,
                  float[][] teacher, Targets targets, boolean oneRound, Listener listener, BooleanSupplier cancelled) {
        int[] split = oneRound ? new int[] {config.epochs()} : trainer.roundEpochs(targets);
        listener.onPhase(Phase.TRAIN, "Training " + heads.size() + " exit(s) for " + split[0] + " epochs"
                + (split.length == 2 ? " (first round of two)" : "") + " on " + targets.labelled() + " labels, "
                + targets.pseudoLabelled() + " pseudo-labels and " + targets.distilled() + " distillation targets");
        List<ExitHead> exits = List.copyOf(heads);
        trainer.fit(exits, targets, space, cache, false, listener, cancelled, split, 0,
                live(exits, 1, split, listener, cancelled));
        if (split.length == 2) {
            listener.onPhase(Phase.TRAIN, "Second round: " + heads.size() + " fresh exit(s) learn from the late "
                    + "ensemble of the first (epochs " + (split[0] + 1) + "-" + (split[0] + split[1]) + ")");
            float[][] teacher2 = trainer.lateEnsemble(exits, teacher, cache, nTrain, cancelled);
            heads.forEach(ExitHead::close);
            heads.clear();
            for (ExitPlacement p : ordered) {
                heads.add(new ExitHead(p, backbone.stage(p.stage()).outputShape(), space.size()));
            }
            exits = List.copyOf(heads);
            // the result reports the targets the kept exits learnt from
            targets = Targets.build(data, space, teacher2, config);
            trainer.fit(exits, targets, space, cache, false, listener, cancelled, split, 1,
                    live(exits, 2, split, listener, cancelled));
        }
        return new Outcome(targets, last, evalSeconds);
    }

    /**
     * The heads as they came, untrained (a resumed run with nothing new): the held-out images' predictions and
     * statistics, once, as after a last epoch.
     */
    Outcome keep(List<ExitHead> heads, Targets targets, String why, Listener listener, BooleanSupplier cancelled) {
        listener.onPhase(Phase.TRAIN, why);
        double[] noLoss = new double[heads.size()];
        Arrays.fill(noLoss, Double.NaN);
        live(List.copyOf(heads), 1, new int[] {1}, listener, cancelled).after(1, noLoss);
        return new Outcome(targets, last, evalSeconds);
    }

    /** After each epoch of a round: predictions on the held-out images and per-exit statistics to the listener. */
    private ExitTrainer.EpochHook live(List<ExitHead> exits, int round, int[] split, Listener listener,
                                       BooleanSupplier cancelled) {
        return (epoch, losses) -> {
            boolean lastEpoch = round == split.length && epoch == split[split.length - 1];
            if (!config.evalEveryEpoch() && !lastEpoch) {
                return;
            }
            // predictions, statistics and whatever the listener does with them (live curves) are not training
            long t0 = System.nanoTime();
            last = predict(exits, cancelled);
            List<ExitStats> stats = new ArrayList<>();
            for (int h = 0; h < exits.size(); h++) {
                stats.add(new ExitStats(exits.get(h).stage(), exits.get(h).head().id(), losses[h],
                        last.accuracy(last.exit(h))));
            }
            stats.add(ExitStats.finalExit(finalHead == null ? null : finalHead.head().id(),
                    last.accuracy(last.finalExit())));
            int before = round == 1 ? 0 : split[0];
            listener.onEpoch(before + epoch, Arrays.stream(split).sum(), stats, last);
            evalSeconds += (System.nanoTime() - t0) / 1e9;
        };
    }

    private EvalPredictions predict(List<ExitHead> exits, BooleanSupplier cancelled) {
        List<float[][]> probs = new ArrayList<>();
        for (ExitHead head : exits) {
            probs.add(HeadOutputs.probabilities(head, trainer.input(head, cache), nTrain, evalTruth.length,
                    cancelled));
        }
        // the final exit is fixed during exit training: its evaluation rows are the teacher's
        return new EvalPredictions(exits.stream().map(ExitHead::stage).toList(), probs, finalEval, evalTruth,
                finalEval.length == 0 ? 0 : finalEval[0].length);
    }
}
