package org.persephonee.core.personalise;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.engine.EngineWorkers;
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

    /** Fewer training images than this many per fold: no cross-fitting (and no out-of-fold predictions). */
    static final int MIN_PER_FOLD = 4;

    /**
     * Cross-fitting: the training images are split into {@code config.validationFolds()} folds (stratified by
     * label, seeded); for each fold the whole head training (re-fitted final exit, its teaching targets, the
     * exits) is repeated without that fold's images and predicts them. Every training image so gets a
     * prediction from heads that never saw it, on the cached features: the frozen pass is not repeated. The
     * folds train side by side ({@link ExitTrainer#fit(List, PersonalLabelSpace, FeatureCache, boolean,
     * BooleanSupplier, ExitTrainer.Progress)}): each learns what it would alone, in one batched step for all.
     *
     * @param refitStage the last stage when the final exit is re-fitted, else null
     * @param backboneLogits cached backbone logits, training rows first
     * @param average collects every fold's heads for the deployed mean ({@link FoldAverage}), or null
     * @return out-of-fold predictions over the training images, or null with too few of them
     */
    EvalPredictions run(PreparedData data, PersonalLabelSpace space, FeatureCache cache, String refitStage,
                        int retrain, List<ExitPlacement> ordered, float[][] backboneLogits,
                        float[][][] refitOof, FoldAverage average, Listener listener, BooleanSupplier cancelled) {
        return run(data, space, cache, refitStage, retrain, ordered, backboneLogits, refitOof, average, null, listener,
                cancelled);
    }

    /**
     * Folds an update carries on from an earlier run (issue 15): each training photo keeps the fold it was held out
     * in, new photos are dealt to the folds, and each fold's heads start from the weights that fold had and train
     * {@code config.epochs()} more, one round taught by the late ensemble of the heads they start from (as an update
     * of the deployed heads was). Every photo is still predicted by heads that never trained on it, and the run
     * deploys the folds' mean as a run from scratch does.
     *
     * @param fold each training photo's fold, -1 for a photo the earlier run did not have
     * @param weights a fold's starting {weights, bias} by exit key or {@link PersonalisationResult#FINAL_KEY}
     */
    record Carry(int[] fold, java.util.function.BiFunction<String, Integer, float[][]> weights) { }

    /** {@link #run} carrying the folds of an earlier run on ({@code carry}), or from scratch when it is null. */
    EvalPredictions run(PreparedData data, PersonalLabelSpace space, FeatureCache cache, String refitStage,
                        int retrain, List<ExitPlacement> ordered, float[][] backboneLogits,
                        float[][][] refitOof, FoldAverage average, Carry carry, Listener listener,
                        BooleanSupplier cancelled) {
        return run(data, space, cache, refitStage, retrain, ordered, backboneLogits, refitOof, average, carry, null,
                listener, cancelled);
    }

    /**
     * {@link #run} with the final heads the re-fit's out-of-fold check already fitted on these folds ({@code decided},
     * or null): they are taken instead of fitted again.
     */
    EvalPredictions run(PreparedData data, PersonalLabelSpace space, FeatureCache cache, String refitStage,
                        int retrain, List<ExitPlacement> ordered, float[][] backboneLogits,
                        float[][][] refitOof, FoldAverage average, Carry carry, RefitDecision.Folds decided,
                        Listener listener, BooleanSupplier cancelled) {
        int n = data.trainSize();
        int k = config.validationFolds();
        if (n < MIN_PER_FOLD * k) {
            return null;
        }
        int[] fold = folds(data, k, carry == null ? null : carry.fold(), config.seed());
        if (average != null) {
            average.assignment(fold);
        }
        List<float[][]> exitProbs = new ArrayList<>();
        for (int j = 0; j < ordered.size(); j++) {
            exitProbs.add(new float[n][]);
        }
        float[][] finalProbs = new float[n][];
        float[][] frozenFinal = retrain > 0 ? new float[n][] : null;
        Targets labelsAll = Targets.labelsOnly(data, space);
        boolean[][] held = new boolean[k][n];
        float[][][] teacher = new float[k][n][];
        for (int f = 0; f < k; f++) {
            for (int i = 0; i < n; i++) {
                held[f][i] = fold[i] == f;
                teacher[f][i] = HeadOutputs.logProbs(space, backboneLogits[i]);
            }
        }
        long t0 = System.nanoTime();
        listener.onPhase(Phase.VALIDATE, "Validating on the training images: " + k + " folds side by side");
        // the run's engine threads become that many threads training folds, each running the engine on one
        int threads = org.persephonee.core.engine.Engines.setThreads(1);
        runThreads = threads;
        workers = Math.max(1, Math.min(maxWorkers, threads));
        ExitTrainer.EpochHook none = (e, l) -> { };
        List<ExitHead> heads = new ArrayList<>();
        try {
            List<ExitHead> fitted = refitStage == null || decided == null ? null : decided.take(fold, k);
            if (fitted != null) {
                heads.addAll(fitted);
            }
            if (refitStage != null) {
                List<ExitTrainer.Lane> lanes = new ArrayList<>();
                ExitHead[] fins = fitted == null ? new ExitHead[k] : fitted.toArray(new ExitHead[0]);
                for (int f = 0; f < k && fitted == null; f++) {
                    fins[f] = new ExitHead(new ExitPlacement(refitStage, PersonalisationJob.FINAL_HEAD),
                            backbone.stage(refitStage).outputShape(), space.size());
                    heads.add(fins[f]);
                    if (carry != null) {
                        trainer.startFrom(fins[f], carry.weights().apply(PersonalisationResult.FINAL_KEY, f));
                    }
                    lanes.add(trainer.lane(List.of(fins[f]), labelsAll.without(held[f]),
                            new int[] {config.epochs()}, 0, none));
                }
                fit(lanes, space, cache, true, cancelled, share(listener, t0, 0, REFIT_SHARE));
                onFolds(k, cancelled, f -> {
                    float[][] p = HeadOutputs.probabilities(fins[f], trainer.input(fins[f], cache), 0, n, cancelled);
                    for (int i = 0; i < n; i++) {
                        teacher[f][i] = HeadOutputs.log(p[i]);
                    }
                });
                for (int f = 0; f < k; f++) {
                    if (average != null) {
                        // before any re-training moves it: the mean is used only where re-trained stages are dropped
                        average.addFinal(fins[f]);
                    }
                }
                for (int f = 0; f < k; f++) {
                    float[][] fp = null;
                    if (retrain > 0) {
                        // the final exit is the re-trained copy: it is cross-fitted too, fold by fold (a DJL trainer
                        // each) on the run's engine threads
                        org.persephonee.core.engine.Engines.setThreads(threads);
                        try (RetrainedStages rs = RetrainedStages.copyOf(backbone, retrain)) {
                            FeatureStore rin = cache.get(FeatureCache.Request.raw(rs.inputStage()));
                            rs.train(fins[f], rin, Targets.build(data, space, teacher[f], config).without(held[f]),
                                    space.size(), config.epochs(), config.batchSize(), ExitTrainer.MIN_STEPS,
                                    config.temperature(),
                                    config.seed() * 1000 + 900 + f, cancelled);
                            fp = rs.probabilities(fins[f], rin, 0, n, cancelled);
                        } finally {
                            org.persephonee.core.engine.Engines.setThreads(1);
                        }
                    }
                    for (int i = 0; i < n; i++) {
                        if (held[f][i]) {
                            finalProbs[i] = fp != null ? fp[i]
                                    : org.persephonee.core.util.Vectors.softmax(teacher[f][i], 1f);
                            if (frozenFinal != null) {
                                frozenFinal[i] = org.persephonee.core.util.Vectors.softmax(teacher[f][i], 1f);
                            }
                        }
                    }
                }
            } else {
                for (int i = 0; i < n; i++) {
                    finalProbs[i] = org.persephonee.core.util.Vectors.softmax(teacher[fold[i]][i], 1f);
                }
            }
            // the exits: a first round on every fold, then a second where the late ensemble teaches
            List<List<ExitHead>> exits = new ArrayList<>();
            int[][] split = new int[k][];
            List<ExitTrainer.Lane> lanes = new ArrayList<>();
            float[][][] foldTeachers = teacher.clone();
            for (int f = 0; f < k; f++) {
                exits.add(fresh(ordered, space, heads));
                if (carry != null) {
                    for (ExitHead h : exits.get(f)) {
                        trainer.startFrom(h, carry.weights().apply(h.key(), f));
                    }
                }
            }
            if (carry != null && config.teacher() == Teacher.ENSEMBLE) {
                // one round, taught by the late ensemble of the heads the fold starts from
                onFolds(k, cancelled, f -> foldTeachers[f] = trainer.lateEnsemble(exits.get(f), teacher[f], cache, n,
                        cancelled));
            }
            for (int f = 0; f < k; f++) {
                float[][] foldTeacher = foldTeachers[f];
                Targets foldTargets = Targets.build(data, space, foldTeacher, config).without(held[f]);
                split[f] = carry != null ? new int[] {config.epochs()} : trainer.roundEpochs(foldTargets);
                lanes.add(trainer.lane(exits.get(f), foldTargets, split[f], 0, none));
            }
            double lo = refitStage != null ? REFIT_SHARE : 0;
            boolean twice = java.util.Arrays.stream(split).anyMatch(s -> s.length == 2);
            double mid = twice ? lo + (1 - lo) * split[0][0] / (double) java.util.Arrays.stream(split[0]).sum() : 1;
            fit(lanes, space, cache, false, cancelled, share(listener, t0, lo, mid));
            lanes.clear();
            float[][][] teachers2 = new float[k][][];
            onFolds(k, cancelled, f -> {
                if (split[f].length == 2) {
                    teachers2[f] = trainer.lateEnsemble(exits.get(f), teacher[f], cache, n, cancelled);
                }
            });
            for (int f = 0; f < k; f++) {
                if (split[f].length == 2) {
                    float[][] teacher2 = teachers2[f];
                    exits.get(f).forEach(ExitHead::close);
                    heads.removeAll(exits.get(f));
                    exits.set(f, fresh(ordered, space, heads));
                    lanes.add(trainer.lane(exits.get(f), Targets.build(data, space, teacher2, config)
                            .without(held[f]), split[f], 1, none));
                }
            }
            fit(lanes, space, cache, false, cancelled, share(listener, t0, mid, 1));
            for (int f = 0; f < k; f++) {
                if (average != null) {
                    average.addExits(exits.get(f));
                }
            }
            onFolds(k, cancelled, f -> {
                // each fold's exits predict only the images held out of it (the folds' rows differ: no two threads
                // write one row)
                int[] rows = java.util.stream.IntStream.range(0, n).filter(i -> fold[i] == f).toArray();
                for (int j = 0; j < exits.get(f).size(); j++) {
                    ExitHead h = exits.get(f).get(j);
                    float[][] p = HeadOutputs.probabilities(h, trainer.input(h, cache), rows, cancelled);
                    for (int i = 0; i < rows.length; i++) {
                        exitProbs.get(j)[rows[i]] = p[i];
                    }
                }
            });
        } finally {
            heads.forEach(ExitHead::close);
            org.persephonee.core.engine.Engines.setThreads(threads);
        }
        listener.onProgress(Phase.VALIDATE, 1, 0);
        int[] truth = new int[n];
        for (int i = 0; i < n; i++) {
            String l = data.trainLabel.get(i);
            truth[i] = l == null ? -1 : space.indexOf(l) < 0 ? -2 : space.indexOf(l);
        }
        refitOof[0] = frozenFinal;
        return new EvalPredictions(ordered.stream().map(ExitPlacement::stage).toList(), exitProbs, finalProbs, truth,
                space.size());
    }

    /** Threads training folds in this run: one per engine thread the run had, each running the engine on one. */
    private int workers = 1;
    /** The engine threads the run had: heads that are not pooling + linear train on them (one fold after another). */
    private int runThreads = 1;
    /** At most this many threads train folds. */
    private int maxWorkers = Integer.MAX_VALUE;

    /** Trains the folds on at most {@code max} threads (tests: one thread and several must agree). */
    CrossFit maxWorkers(int max) {
        this.maxWorkers = max;
        return this;
    }

    /**
     * Trains the folds' lanes, split over {@link #workers} threads that each run the engine on one thread of its
     * own (the folds are independent: each learns the same on any thread); progress comes from the first.
     */
    private void fit(List<ExitTrainer.Lane> lanes, PersonalLabelSpace space, FeatureCache cache,
                     boolean fromClassifier, BooleanSupplier cancelled, ExitTrainer.Progress progress) {
        if (lanes.isEmpty()) {
            return;
        }
        // conv and MLP heads train through DJL trainers, whose gradient collector allows one at a time
        boolean probesOnly = lanes.get(0).heads().stream().allMatch(h -> h.probePrefix() != null);
        int w = probesOnly ? Math.min(workers, lanes.size()) : 1;
        if (!probesOnly) {
            // conv and MLP heads: one fold after another, on the engine threads the run had
            org.persephonee.core.engine.Engines.setThreads(runThreads);
            try {
                trainer.fit(lanes, space, cache, fromClassifier, cancelled, progress);
            } finally {
                org.persephonee.core.engine.Engines.setThreads(1);
            }
            return;
        }
        if (w <= 1) {
            trainer.fit(lanes, space, cache, fromClassifier, cancelled, progress);
            return;
        }
        onWorkers(trainer, lanes, w, space, cache, fromClassifier, cancelled, progress);
    }

    /** The lanes split over {@code w} threads, each running the engine on one; progress comes from the first. */
    private static void onWorkers(ExitTrainer trainer, List<ExitTrainer.Lane> lanes, int w, PersonalLabelSpace space,
                                  FeatureCache cache, boolean fromClassifier, BooleanSupplier cancelled,
                                  ExitTrainer.Progress progress) {
        // a thread that fails (a non-finite step, a cancel, an error) stops the others at their next step
        java.util.concurrent.atomic.AtomicBoolean abort = new java.util.concurrent.atomic.AtomicBoolean();
        BooleanSupplier stop = () -> abort.get() || cancelled.getAsBoolean();
        EngineWorkers.run(THREAD_NAME, w, abort, g -> trainer.fit(part(lanes, g, w), space, cache, fromClassifier,
                stop, g == 0 ? progress : (d, t, s) -> { }));
    }

    /**
     * Trains {@code lanes} as the folds train here, outside a cross-fitting (the re-fit check's copies of the final
     * head): pooling + linear heads split over the engine threads the run has, each thread running the engine on one
     * (a lane learns the same on any thread, beside any other lanes); other heads as {@link ExitTrainer#fit} does.
     */
    static void fitSideBySide(ExitTrainer trainer, List<ExitTrainer.Lane> lanes, PersonalLabelSpace space,
                              FeatureCache cache, boolean fromClassifier, BooleanSupplier cancelled,
                              ExitTrainer.Progress progress) {
        boolean probesOnly = !lanes.isEmpty() && lanes.get(0).heads().stream().allMatch(h -> h.probePrefix() != null);
        if (!probesOnly || lanes.size() < 2) {
            trainer.fit(lanes, space, cache, fromClassifier, cancelled, progress);
            return;
        }
        int threads = org.persephonee.core.engine.Engines.setThreads(1);
        try {
            int w = Math.min(threads, lanes.size());
            if (w <= 1) {
                trainer.fit(lanes, space, cache, fromClassifier, cancelled, progress);
                return;
            }
            onWorkers(trainer, lanes, w, space, cache, fromClassifier, cancelled, progress);
        } finally {
            org.persephonee.core.engine.Engines.setThreads(threads);
        }
    }

    /**
     * Runs {@code body} for every fold, the folds spread over the {@link #workers} threads as the training is (each
     * fold's heads are its own, and the cache is read-only); returns when every fold is done, with the first
     * failure.
     */
    private void onFolds(int k, BooleanSupplier cancelled, java.util.function.IntConsumer body) {
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicBoolean abort = new java.util.concurrent.atomic.AtomicBoolean();
        EngineWorkers.run(THREAD_NAME, Math.min(workers, k), abort, g -> {
            for (int f = next.getAndIncrement(); f < k && !abort.get() && !cancelled.getAsBoolean();
                 f = next.getAndIncrement()) {
                body.accept(f);
            }
        });
        if (cancelled.getAsBoolean()) {
            throw new java.util.concurrent.CancellationException("cancelled");
        }
    }

    private static final String THREAD_NAME = "persephonee-cross-fit";

    /** Every {@code w}-th lane from {@code g}. */
    private static List<ExitTrainer.Lane> part(List<ExitTrainer.Lane> lanes, int g, int w) {
        List<ExitTrainer.Lane> out = new ArrayList<>();
        for (int i = g; i < lanes.size(); i += w) {
            out.add(lanes.get(i));
        }
        return out;
    }

    /** Share of the validation bar the re-fitted final exits fill (they train one head each, the exits several). */
    private static final double REFIT_SHARE = 0.15;

    /** Fresh exits for one fold, one per placement, also added to {@code all} (closed by the caller). */
    private List<ExitHead> fresh(List<ExitPlacement> ordered, PersonalLabelSpace space, List<ExitHead> all) {
        List<ExitHead> exits = new ArrayList<>();
        for (ExitPlacement p : ordered) {
            ExitHead h = new ExitHead(p, backbone.stage(p.stage()).outputShape(), space.size());
            all.add(h);
            exits.add(h);
        }
        return exits;
    }

    /**
     * Seeded folds: labelled images dealt class by class, then unlabelled ones, so every fold gets its share. With
     * {@code kept} (a fold per photo, -1 for new ones), photos keep their fold and only the new ones are dealt. A
     * labelled photo's fold depends on the labelled photos only ({@link RefitDecision} holds out the same ones).
     */
    static int[] folds(PreparedData data, int k, int[] kept, long seed) {
        int n = data.trainSize();
        Map<String, List<Integer>> byLabel = new TreeMap<>();
        List<Integer> unlabelled = new ArrayList<>();
        int[] fold = new int[n];
        for (int i = 0; i < n; i++) {
            if (kept != null && kept[i] >= 0 && kept[i] < k) {
                fold[i] = kept[i];
                continue;
            }
            String l = data.trainLabel.get(i);
            if (l == null) {
                unlabelled.add(i);
            } else {
                byLabel.computeIfAbsent(l, x -> new ArrayList<>()).add(i);
            }
        }
        Random rnd = new Random(seed + 77);
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
     * A training's progress as the part {@code lo}..{@code hi} of the validation bar ({@link Phase#VALIDATE}): the
     * bar fills once over the folds and rounds, and the time left is extrapolated from the validation so far
     * (started at {@code t0}).
     */
    private static ExitTrainer.Progress share(Listener l, long t0, double lo, double hi) {
        return (done, total, seconds) -> {
            double overall = lo + (hi - lo) * done / Math.max(1, total);
            double el = (System.nanoTime() - t0) / 1e9;
            // no time left until a tenth is done: the first steps' pace includes the set-up, and extrapolated from
            // them read as a minute for a few seconds' work
            l.onProgress(Phase.VALIDATE, overall, overall >= 0.1 ? el / overall * (1 - overall) : Double.NaN);
        };
    }
}
