package org.persephonee.core.personalise;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.personalise.PersonalisationJob.Listener;
import org.persephonee.core.personalise.PersonalisationJob.Phase;
import org.persephonee.core.util.Vectors;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.BooleanSupplier;

/**
 * Whether the final classifier is re-fitted on the person's labels or kept as the backbone shipped it (restricted to
 * the person's classes), decided out of fold on the labelled training photos: a phase of {@link PersonalisationJob}.
 * With few labels a re-fit can be far worse than the classifier it starts from (ResNet-9, tilted-phone, 8 labels:
 * 63-73 % re-fitted, 72-73 % kept; night-owl, 10 labels: level), and the final exit teaches every other exit.
 * <p>
 * The labelled photos are held out in the cross-fitting's folds ({@link CrossFit#folds}); a copy of the final head is
 * fitted on the others' labels, as the run's own re-fit is, and predicts them. It is kept only when its class-balanced
 * accuracy is at least the backbone classifier's on the same photos (the paper re-fits; only evidence that the re-fit
 * is worse keeps the classifier); a class the backbone does not know always needs it.
 * The test images are never read.
 */
final class RefitDecision {

    /**
     * The decision and a sentence saying why, with the two out-of-fold accuracies.
     *
     * @param folds the folds' fitted heads wherever the check ran (the caller owns them): where the final head is
     *              re-fitted they are the cross-fitting's own ({@link CrossFit} takes them); where the classifier is
     *              kept, a later update's check starts from them ({@link FoldAverage#addCheckedFinals}); else null
     */
    record Outcome(boolean refit, String reason, Folds folds) {
        Outcome(boolean refit, String reason) {
            this(refit, reason, null);
        }
    }

    /**
     * Each training photo's fold and every fold's final head fitted on the other folds' labelled photos: the same
     * heads the cross-fitting fits first, which takes them ({@link #take}) instead of fitting them again. Closing
     * frees the heads nobody took.
     */
    static final class Folds implements AutoCloseable {
        private final int[] fold;
        private List<ExitHead> heads;

        Folds(int[] fold, List<ExitHead> heads) {
            this.fold = fold;
            this.heads = heads;
        }

        /**
         * The mean of the folds' {weights, bias} (the deployed final exit an update's cross-fitting ends with when it
         * takes these heads), or null when they were taken.
         */
        float[][] mean() {
            if (heads == null || heads.isEmpty()) {
                return null;
            }
            FoldAverage average = new FoldAverage();
            heads.forEach(average::addFinal);
            return average.mean(PersonalisationResult.FINAL_KEY);
        }

        /** The heads in fold order, still owned here, or null when they were taken. */
        List<ExitHead> heads() { return heads == null ? null : List.copyOf(heads); }

        /** The heads, when they were fitted on these folds ({@code fold}, {@code k} of them); the taker owns them. */
        List<ExitHead> take(int[] fold, int k) {
            if (heads == null || heads.size() != k || !java.util.Arrays.equals(this.fold, fold)) {
                return null;
            }
            List<ExitHead> h = heads;
            heads = null;
            return h;
        }

        @Override
        public void close() {
            if (heads != null) {
                heads.forEach(ExitHead::close);
                heads = null;
            }
        }
    }

    private RefitDecision() { }

    /**
     * @param backboneLogits cached backbone logits, training rows first
     * @param lastStage the stage the final head sits on (its pooled features are in the cache)
     * @param start the folds an update carries on ({@link Resumption#carriedFolds}): the heads start from their
     *              weights, as the cross-fitting's will; null from scratch
     */
    static Outcome decide(Backbone backbone, PersonalisationConfig config, ExitTrainer trainer, FeatureCache cache,
                          PreparedData data, PersonalLabelSpace space, float[][] backboneLogits, String lastStage,
                          CrossFit.Carry start, Listener listener, BooleanSupplier cancelled) {
        Targets labels = Targets.labelsOnly(data, space);
        int n = data.trainSize();
        List<Integer> labelled = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (labels.hard(i) >= 0) {
                labelled.add(i);
            }
        }
        for (int b : space.backboneIndex()) {
            if (b < 0) {
                return new Outcome(true, "re-fitted: the backbone's classifier does not know every class");
            }
        }
        int k = Math.min(config.validationFolds(), labelled.size());
        if (k < 2) {
            return new Outcome(true, "re-fitted (not validated: " + labelled.size() + " labelled photo(s) or no "
                    + "validation folds)");
        }
        int[] fold = CrossFit.folds(data, k, start == null ? null : start.fold(), config.seed());
        List<ExitHead> heads = new ArrayList<>();
        List<ExitTrainer.Lane> lanes = new ArrayList<>();
        float[][] oof = new float[n][];
        boolean handedOver = false;
        boolean warm = start != null;
        try {
            for (int f = 0; f < k; f++) {
                boolean[] held = new boolean[n];
                for (int i : labelled) {
                    held[i] = fold[i] == f;
                }
                ExitHead h = new ExitHead(new ExitPlacement(lastStage, PersonalisationJob.FINAL_HEAD),
                        backbone.stage(lastStage).outputShape(), space.size());
                heads.add(h);
                warm &= start != null && trainer.startFrom(h, start.weights().apply(PersonalisationResult.FINAL_KEY, f));
                lanes.add(trainer.lane(List.of(h), labels.without(held), new int[] {config.epochs()}, 0,
                        (e, l) -> { }));
            }
            listener.onPhase(Phase.VALIDATE, "Re-fit the final exit or keep the backbone's? " + k + " folds of "
                    + labelled.size() + " labelled photos" + (warm ? ", carried on from the last run's folds" : ""));
            // a fraction of a second (the folds' linear heads take batched steps together, on the run's engine
            // threads as the cross-fitting's folds do): no bar of its own
            CrossFit.fitSideBySide(trainer, lanes, space, cache, true, cancelled, (done, total, s) -> { });
            for (int f = 0; f < k; f++) {
                int ff = f;
                int[] rows = labelled.stream().filter(i -> fold[i] == ff).mapToInt(Integer::intValue).toArray();
                ExitHead h = heads.get(f);
                float[][] p = HeadOutputs.probabilities(h, trainer.input(h, cache), rows, cancelled);
                for (int r = 0; r < rows.length; r++) {
                    oof[rows[r]] = p[r];
                }
            }
            double refitted = balanced(labelled, labels, space.size(), i -> Vectors.argmax(oof[i]));
            double kept = balanced(labelled, labels, space.size(),
                    i -> Vectors.argmax(HeadOutputs.logProbs(space, backboneLogits[i])));
            // a tie re-fits, as the paper does: the classifier is kept only where the labels say the re-fit is worse
            // (the log-loss is no tie-breaker: on 5 ties of 24 decisions it favoured the worse choice each time)
            boolean refit = refitted >= kept;
            String reason = String.format(Locale.ROOT, "%s: out of fold on %d labelled photos (%d folds), "
                    + "class-balanced %.3f re-fitted vs %.3f the backbone's classifier",
                    refit ? "re-fitted" : "the backbone's classifier kept", labelled.size(), k, refitted, kept);
            // kept or not, the fitted heads go to the caller: a re-fit's are the cross-fitting's first step, a kept
            // classifier's are where the next update's check starts (warm, an update's few steps instead of a fresh
            // head's floor: 0.03 s of a 0.25 s update where labels first tip the check)
            handedOver = true;
            return new Outcome(refit, reason, new Folds(fold, List.copyOf(heads)));
        } finally {
            if (!handedOver) {
                heads.forEach(ExitHead::close);
            }
        }
    }

    private static double balanced(List<Integer> rows, Targets labels, int classes,
                                   java.util.function.IntUnaryOperator predict) {
        int[] right = new int[classes];
        int[] all = new int[classes];
        for (int i : rows) {
            int y = labels.hard(i);
            all[y]++;
            right[y] += predict.applyAsInt(i) == y ? 1 : 0;
        }
        double sum = 0;
        int present = 0;
        for (int c = 0; c < classes; c++) {
            if (all[c] > 0) {
                sum += right[c] / (double) all[c];
                present++;
            }
        }
        return present == 0 ? 0 : sum / present;
    }
}
