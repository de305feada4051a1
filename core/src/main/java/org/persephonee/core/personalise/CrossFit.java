package org.persephonee.core.personalise;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.personalise.PersonalisationJob.Listener;
import org.persephonee.core.personalise.PersonalisationJob.Phase;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;

/**
 * Out-of-fold predictions on the person's training images, for every choice made without the test images
 * (operating point, search budget, re-trained stages): the whole head training is repeated per fold on the cached
 * features and each fold's images are predicted by heads that never saw them.
 */
final class CrossFit {
    private final PersonalisationConfig config;
    private final Backbone backbone;
    private final ExitTrainer trainer;

    CrossFit(PersonalisationConfig config, Backbone backbone, ExitTrainer trainer) {
        this.config = config;
        this.backbone = backbone;
        this.trainer = trainer;
    }

    /**
     * Cross-fitting: the training images are split into {@code config.validationFolds()} folds (stratified by
     * label, seeded); for each fold the whole head training (re-fitted final exit, its teaching targets, the
     * exits) is repeated without that fold's images and predicts them. Every training image so gets a
     * prediction from heads that never saw it, on the cached features: the frozen pass is not repeated.
     *
     * @param refitStage the last stage when the final exit is re-fitted, else null
     * @param backboneLogits cached backbone logits, training rows first
     * @param average collects every fold's heads for the deployed mean ({@link FoldAverage}), or null
     * @return out-of-fold predictions over the training images, or null with too few of them
     */
    EvalPredictions run(PreparedData data, PersonalLabelSpace space, FeatureCache cache, String refitStage,
                        int retrain, List<ExitPlacement> ordered, float[][] backboneLogits,
                        float[][][] refitOof, FoldAverage average, Listener listener, BooleanSupplier cancelled) {
        int n = data.trainSize();
        int k = config.validationFolds();
        if (n < 4 * k) {
            return null;
        }
        int[] fold = folds(data, k);
        List<float[][]> exitProbs = new ArrayList<>();
        for (int j = 0; j < ordered.size(); j++) {
            exitProbs.add(new float[n][]);
        }
        float[][] finalProbs = new float[n][];
        float[][] frozenFinal = retrain > 0 ? new float[n][] : null;
        Targets labelsAll = Targets.labelsOnly(data, space);
        long t0 = System.nanoTime();
        for (int f = 0; f < k; f++) {
            listener.onPhase(Phase.VALIDATE, "Validating on the training images: fold " + (f + 1) + " of " + k);
            Listener foldProgress = overFolds(listener, f, k, t0);
            boolean[] held = new boolean[n];
            for (int i = 0; i < n; i++) {
                held[i] = fold[i] == f;
            }
            float[][] teacher = new float[n][];
            for (int i = 0; i < n; i++) {
                teacher[i] = HeadOutputs.logProbs(space, backboneLogits[i]);
            }
            List<ExitHead> heads = new ArrayList<>();
            try {
                if (refitStage != null) {
                    ExitHead fin = new ExitHead(new ExitPlacement(refitStage, PersonalisationJob.FINAL_HEAD),
                            backbone.stage(refitStage).outputShape(), space.size());
                    heads.add(fin);
                    trainer.fit(List.of(fin), labelsAll.without(held), space, cache, true, foldProgress, cancelled,
                            (e, l) -> { });
                    float[][] p = HeadOutputs.probabilities(fin, trainer.input(fin, cache), 0, n, cancelled);
                    for (int i = 0; i < n; i++) {
                        teacher[i] = HeadOutputs.log(p[i]);
                    }
                }
                if (average != null && refitStage != null) {
                    // before any re-training moves it: the mean is used only where re-trained stages are dropped
                    average.addFinal(heads.get(0));
                }
                float[][] fp = null;
                if (retrain > 0) {
                    // the final exit is the re-trained copy: it is cross-fitted too
                    try (RetrainedStages rs = RetrainedStages.copyOf(backbone, retrain)) {
                        FeatureStore rin = cache.get(FeatureCache.Request.raw(rs.inputStage()));
                        rs.train(heads.get(0), rin, Targets.build(data, space, teacher, config).without(held),
                                space.size(), config.epochs(), config.batchSize(), ExitTrainer.MIN_STEPS,
                                config.temperature(),
                                config.seed() * 1000 + 900 + f, cancelled);
                        fp = rs.probabilities(heads.get(0), rin, 0, n, cancelled);
                    }
                }
                for (int i = 0; i < n; i++) {
                    if (held[i]) {
                        finalProbs[i] = fp != null ? fp[i] : org.persephonee.core.util.Vectors.softmax(teacher[i], 1f);
                        if (frozenFinal != null) {
                            frozenFinal[i] = org.persephonee.core.util.Vectors.softmax(teacher[i], 1f);
                        }
                    }
                }
                List<ExitHead> exits = new ArrayList<>();
                for (ExitPlacement p : ordered) {
                    ExitHead h = new ExitHead(p, backbone.stage(p.stage()).outputShape(), space.size());
                    heads.add(h);
                    exits.add(h);
                }
                Targets foldTargets = Targets.build(data, space, teacher, config).without(held);
                int[] split = trainer.roundEpochs(foldTargets);
                trainer.fit(exits, foldTargets, space, cache, false, foldProgress, cancelled, split, 0, (e, l) -> { });
                if (split.length == 2) {
                    float[][] teacher2 = trainer.lateEnsemble(exits, teacher, cache, n, cancelled);
                    exits.forEach(ExitHead::close);
                    heads.removeAll(exits);
                    exits.clear();
                    for (ExitPlacement p : ordered) {
                        ExitHead h = new ExitHead(p, backbone.stage(p.stage()).outputShape(), space.size());
                        heads.add(h);
                        exits.add(h);
                    }
                    trainer.fit(exits, Targets.build(data, space, teacher2, config).without(held), space, cache, false,
                            foldProgress, cancelled, split, 1, (e, l) -> { });
                }
                if (average != null) {
                    average.addExits(exits);
                }
                for (int j = 0; j < exits.size(); j++) {
                    ExitHead h = exits.get(j);
                    float[][] p = HeadOutputs.probabilities(h, trainer.input(h, cache), 0, n, cancelled);
                    for (int i = 0; i < n; i++) {
                        if (held[i]) {
                            exitProbs.get(j)[i] = p[i];
                        }
                    }
                }
            } finally {
                heads.forEach(ExitHead::close);
            }
        }
        int[] truth = new int[n];
        for (int i = 0; i < n; i++) {
            String l = data.trainLabel.get(i);
            truth[i] = l == null ? -1 : space.indexOf(l) < 0 ? -2 : space.indexOf(l);
        }
        refitOof[0] = frozenFinal;
        return new EvalPredictions(ordered.stream().map(ExitPlacement::stage).toList(), exitProbs, finalProbs, truth,
                space.size());
    }

    /** Seeded folds: labelled images dealt class by class, then unlabelled ones, so every fold gets its share. */
    private int[] folds(PreparedData data, int k) {
        int n = data.trainSize();
        Map<String, List<Integer>> byLabel = new TreeMap<>();
        List<Integer> unlabelled = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String l = data.trainLabel.get(i);
            if (l == null) {
                unlabelled.add(i);
            } else {
                byLabel.computeIfAbsent(l, x -> new ArrayList<>()).add(i);
            }
        }
        Random rnd = new Random(config.seed() + 77);
        int[] fold = new int[n];
        int next = 0;
        List<List<Integer>> groups = new ArrayList<>(byLabel.values());
        groups.add(unlabelled);
        for (List<Integer> g : groups) {
            java.util.Collections.shuffle(g, rnd);
            for (int i : g) {
                fold[i] = next++ % k;
            }
        }
        return fold;
    }

    /**
     * Fold {@code f} of {@code k}'s training progress as part of the whole validation ({@link Phase#VALIDATE}): the
     * bar fills once over the folds (it filled once per fold and round) and the time left counts the folds to come.
     */
    static Listener overFolds(Listener l, int f, int k, long t0) {
        return new Listener() {
            @Override
            public void onPhase(Phase phase, String message) {
                l.onPhase(phase, message);
            }

            @Override
            public void onProgress(Phase phase, double fraction, double etaSeconds) {
                double overall = (f + Math.max(0, Math.min(1, fraction))) / k;
                double el = (System.nanoTime() - t0) / 1e9;
                // no time left until a tenth is done: the first fold's set-up (its final exit) has no progress of its
                // own, and extrapolated from the first steps it read as a minute for a few seconds' work
                l.onProgress(Phase.VALIDATE, overall, overall >= 0.1 ? el / overall * (1 - overall) : Double.NaN);
            }

            @Override
            public void onEpoch(int epoch, int epochs, List<ExitStats> stats, EvalPredictions snapshot) {
                l.onEpoch(epoch, epochs, stats, snapshot);
            }
        };
    }
}
