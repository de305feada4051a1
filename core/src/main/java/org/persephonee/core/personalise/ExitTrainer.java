package org.persephonee.core.personalise;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.initializer.XavierInitializer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.engine.Engines;
import org.persephonee.core.engine.NumericGuard;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.personalise.PersonalisationJob.Listener;
import org.persephonee.core.personalise.PersonalisationJob.Phase;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * The exit-training phase of a personalisation: heads learn from the cached frozen features only (Adam, cosine
 * decay, the teacher loss), pooling + linear heads batched together, conv and MLP heads one DJL trainer each, with
 * finite checks on every loss and on the trained weights. Used for the exits, the re-fitted final exit and the
 * cross-fitted folds alike.
 */
final class ExitTrainer {
    /** Fewest optimiser steps a head gets, however few images there are. */
    static final int MIN_STEPS = 100;

    /**
     * Learning rate of the re-fitted final exit relative to the exits': it starts at the backbone's
     * classifier and usually has few labels, so it moves slowly (at 0.01 rather than 0.003 it over-fits
     * them: tilted-phone with 15 labels per class 66% instead of 70%).
     */
    static final float REFIT_LR_SCALE = 0.1f;

    /**
     * Widest-to-narrowest input ratio of heads trained in one batched product: the auto grid exits on the
     * sample backbone (256, 512 and 1024 wide) stay one group, a 16x16 grid next to them gets its own.
     */
    static final int PROBE_GROUP_SPREAD = 4;

    private final PersonalisationConfig config;
    private final Backbone backbone;
    /** Pooling + linear heads that start from their current weights (a resumed run), not from a fresh draw. */
    private final java.util.Set<ExitHead> warm = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());

    ExitTrainer(PersonalisationConfig config, Backbone backbone) {
        this.config = config;
        this.backbone = backbone;
    }

    /** What the cache keeps for a placement: pooled rows for a pooling + linear head, else the stage output. */
    static FeatureCache.Request request(Backbone backbone, ExitPlacement p) {
        List<org.persephonee.core.backbone.LayerSpec> prefix = ExitHead.probePrefix(p.head(),
                backbone.stage(p.stage()).outputShape());
        return prefix == null ? FeatureCache.Request.raw(p.stage()) : new FeatureCache.Request(p.stage(), prefix);
    }

    /**
     * Lets a pooling + linear head start its training from the weights it holds now (a resumed run); warm heads
     * get a floor of optimiser steps in proportion to their epochs ({@link #MIN_STEPS} at the default epochs).
     */
    void warmStart(ExitHead head) {
        if (head.probePrefix() != null) {
            warm.add(head);
        }
    }

    /**
     * Gives a pooling + linear head the weights {@code w} ({weights, bias}, as {@link ExitHead#linear()}) and lets it
     * start its training from them ({@link #warmStart}): an update's heads, and the folds it carries on.
     *
     * @return false, the head left as it was, when {@code w} is null, the head is not pooling + linear, or the shapes
     *         differ
     */
    boolean startFrom(ExitHead head, float[][] w) {
        if (w == null || head.probePrefix() == null) {
            return false;
        }
        head.initialize();
        float[][] now = head.linear();
        if (now[0] == null || now[1] == null || now[0].length != w[0].length || now[1].length != w[1].length) {
            return false;
        }
        head.setLinear(w[0], w[1]);
        warmStart(head);
        return true;
    }

    /** Receives each epoch's mean loss per head. */
    interface EpochHook {
        void after(int epoch, double[] losses);
    }

    /**
     * Trains heads on cached features for {@code config.epochs()} epochs (Adam, cosine decay). Heads that are
     * pooling + one linear layer train together as {@link LinearHeads} on their pooled rows; others (conv,
     * MLP) train one by one on the stage outputs.
     *
     * @param fromClassifier initialise the (single, final) head from the backbone's classifier rows
     */
    void fit(List<ExitHead> heads, Targets targets, PersonalLabelSpace space, FeatureCache cache,
             boolean fromClassifier, Listener listener, BooleanSupplier cancelled, EpochHook hook) {
        fit(heads, targets, space, cache, fromClassifier, listener, cancelled, new int[] {config.epochs()}, 0, hook);
    }

    /**
     * One copy of the heads a {@link #fit(List, PersonalLabelSpace, FeatureCache, boolean, BooleanSupplier, Progress)}
     * trains: its heads (the same placements in every lane), targets, epochs, floor of optimiser steps and hook.
     */
    record Lane(List<ExitHead> heads, Targets targets, int userEpochs, int minSteps, EpochHook hook) { }

    /** Training progress: optimiser steps done of the total (the longest lane's), and the seconds so far. */
    interface Progress {
        void at(int done, int total, double seconds);
    }

    /**
     * A lane as round {@code round} of {@code split.length}: {@code split[round]} epochs, and a share of the
     * {@link #MIN_STEPS} floor as large as its share of the epochs (two rounds cost what one would).
     */
    Lane lane(List<ExitHead> heads, Targets targets, int[] split, int round, EpochHook hook) {
        int userEpochs = split[round];
        boolean allWarm = heads.stream().allMatch(warm::contains);
        int minSteps = allWarm
                ? (int) Math.ceil(MIN_STEPS * userEpochs / (double) PersonalisationConfig.DEFAULT_EPOCHS)
                : (int) Math.ceil(MIN_STEPS * userEpochs / (double) java.util.Arrays.stream(split).sum());
        return new Lane(heads, targets, userEpochs, minSteps, hook);
    }

    /**
     * {@link #fit} as round {@code round} of {@code split.length}, reporting progress in the rounds' share of the
     * epochs (the rounds of a split fill one bar).
     */
    void fit(List<ExitHead> heads, Targets targets, PersonalLabelSpace space, FeatureCache cache,
             boolean fromClassifier, Listener listener, BooleanSupplier cancelled, int[] split, int round,
             EpochHook hook) {
        Progress progress = fromClassifier ? (done, total, el) -> { } : (done, total, el) -> {
            // this round's share of the epochs, and a time left that counts the rounds still to come at this
            // round's pace
            int all = Arrays.stream(split).sum();
            int before = Arrays.stream(split, 0, round).sum();
            double perEpoch = el / done * total / Math.max(1, split[round]);
            listener.onProgress(Phase.TRAIN, (before + split[round] * done / (double) total) / all,
                    el / done * (total - done) + perEpoch * (all - before - split[round]));
        };
        fit(List.of(lane(heads, targets, split, round, hook)), space, cache, fromClassifier, cancelled, progress);
    }

    /**
     * Trains several copies of the same heads side by side (the cross-fitting's folds), each on its own targets,
     * with its own shuffles, epochs and learning-rate schedule: a lane learns exactly what it would alone, but
     * the pooling + linear heads of all lanes take one batched step together, so the per-operation overhead
     * that dominates training on the cache is paid once per step instead of once per lane. Conv and MLP heads
     * take their steps lane by lane. A lane without targets is left untouched (not even initialised).
     */
    void fit(List<Lane> lanes, PersonalLabelSpace space, FeatureCache cache, boolean fromClassifier,
             BooleanSupplier cancelled, Progress progress) {
        lanes = lanes.stream().filter(l -> l.targets().used() > 0).toList();
        if (lanes.isEmpty()) {
            return;
        }
        boolean probesOnly = lanes.get(0).heads().stream().allMatch(h -> h.probePrefix() != null);
        // pooling + linear heads' steps are dozens of small operations: on one engine thread each runs without
        // waking the others (on the sample backbone 1.1 ms a step on one thread, 1.6-2.7 ms on two); conv and
        // MLP heads keep the threads the run has
        int threads = probesOnly ? Engines.setThreads(1) : -1;
        try {
            fitLanes(lanes, space, cache, fromClassifier, cancelled, progress);
        } finally {
            if (threads > 0) {
                Engines.setThreads(threads);
            }
        }
    }

    private void fitLanes(List<Lane> lanes, PersonalLabelSpace space, FeatureCache cache, boolean fromClassifier,
                          BooleanSupplier cancelled, Progress progress) {
        List<ExitHead> first = lanes.get(0).heads();
        int nh = first.size();
        int nl = lanes.size();
        List<ExitPlacement> placements = first.stream().map(ExitHead::placement).toList();
        for (Lane l : lanes) {
            if (!l.heads().stream().map(ExitHead::placement).toList().equals(placements)) {
                throw new IllegalArgumentException("lanes train the same heads");
            }
        }
        // a warm head's weights, read before initialisation draws fresh ones
        java.util.Map<ExitHead, float[][]> start = new java.util.IdentityHashMap<>();
        for (Lane l : lanes) {
            for (ExitHead h : l.heads()) {
                if (warm.contains(h)) {
                    start.put(h, h.linear());
                }
            }
        }
        int batch = config.batchSize();
        int[][] order = new int[nl][];
        int[] steps = new int[nl];
        int[] epochs = new int[nl];
        int[] total = new int[nl];
        int longest = 0;
        for (int l = 0; l < nl; l++) {
            order[l] = lanes.get(l).targets().usedIndices();
            steps[l] = (order[l].length + batch - 1) / batch;
            // few labels mean few batches per epoch: give every head at least its floor of optimiser steps
            epochs[l] = Math.max(lanes.get(l).userEpochs(), (lanes.get(l).minSteps() + steps[l] - 1) / steps[l]);
            total[l] = steps[l] * epochs[l];
            longest = Math.max(longest, total[l]);
        }
        int lastRow = 0;
        for (int[] o : order) {
            for (int i : o) {
                lastRow = Math.max(lastRow, i);
            }
        }
        float base = config.learningRate() * (fromClassifier ? REFIT_LR_SCALE : 1f);
        // each head's cached rows (pooled for probe heads), looked up once: the lanes share them
        FeatureStore[] in = first.stream().map(h -> input(h, cache)).toArray(FeatureStore[]::new);
        List<Integer> probeAt = new ArrayList<>();
        Trainer[][] trainers = new Trainer[nl][nh];
        List<LinearHeads> groups = new ArrayList<>();
        List<List<Integer>> groupAt = new ArrayList<>();
        try {
            for (int l = 0; l < nl; l++) {
                for (int h = 0; h < nh; h++) {
                    ExitHead head = lanes.get(l).heads().get(h);
                    long seed = config.seed() * 1000 + h + (fromClassifier ? 500 : 0);
                    if (head.probePrefix() != null) {
                        head.initialize();
                        if (l == 0) {
                            probeAt.add(h);
                        }
                        continue;
                    }
                    Engines.seed(seed);
                    Tracker lr = Tracker.cosine().setBaseValue(base).optFinalValue(base * 0.01f)
                            .setMaxUpdates(Math.max(1, total[l])).build();
                    DefaultTrainingConfig tc = new DefaultTrainingConfig(Loss.l2Loss())
                            .optInitializer(new XavierInitializer(XavierInitializer.RandomType.GAUSSIAN,
                                    XavierInitializer.FactorType.IN, 2), Parameter.Type.WEIGHT)
                            .optOptimizer(Optimizer.adam().optLearningRateTracker(lr)
                                    .optWeightDecays(config.weightDecay()).build());
                    Trainer t = head.model().newTrainer(tc);
                    trainers[l][h] = t;
                    t.initialize(head.batchShape(batch));
                    if (fromClassifier) {
                        float[][] init = ClassifierInit.rows(backbone, space, head.linear()[0]);
                        if (init != null) {
                            head.setLinear(init[0], init[1]);
                        }
                    }
                }
            }
            // heads of similar width share one batched product (each is padded to its group's widest): a
            // new group starts when a head is more than PROBE_GROUP_SPREAD times wider than its group's first
            probeAt.sort(java.util.Comparator.comparingInt(h -> in[h].width()));
            for (int h : probeAt) {
                if (groupAt.isEmpty() || in[h].width() > PROBE_GROUP_SPREAD
                        * in[groupAt.get(groupAt.size() - 1).get(0)].width()) {
                    groupAt.add(new ArrayList<>());
                }
                groupAt.get(groupAt.size() - 1).add(h);
            }
            for (List<Integer> at : groupAt) {
                List<FeatureStore> groupIn = at.stream().map(h -> in[h]).toList();
                LinearHeads g = new LinearHeads(groupIn, space.size(), at.stream()
                        .mapToLong(h -> config.seed() * 1000 + h + (fromClassifier ? 500 : 0)).toArray(), nl,
                        cache.resident(groupIn, lastRow));
                groups.add(g);
                if (fromClassifier && start.isEmpty()) {
                    for (int j = 0; j < at.size(); j++) {
                        float[][] init = ClassifierInit.rows(backbone, space, g.get(j)[0]);
                        for (int l = 0; init != null && l < nl; l++) {
                            g.set(l, j, init[0], init[1]);
                        }
                    }
                }
                for (int l = 0; l < nl; l++) {
                    for (int j = 0; j < at.size(); j++) {
                        float[][] w = start.get(lanes.get(l).heads().get(at.get(j)));
                        if (w != null) {
                            g.set(l, j, w[0], w[1]);
                        }
                    }
                }
            }
            Random[] rnd = new Random[nl];
            for (int l = 0; l < nl; l++) {
                rnd[l] = new Random(config.seed() + (fromClassifier ? 17 : 0));
            }
            String phase = fromClassifier ? NumericGuard.FINAL_REFIT : NumericGuard.HEADS;
            double[][] lossSum = new double[nl][nh];
            int[][] lossN = new int[nl][nh];
            int k = space.size();
            long t0 = System.nanoTime();
            for (int t = 0; t < longest; t++) {
                if (cancelled.getAsBoolean()) {
                    throw new CancellationException("personalisation cancelled");
                }
                int[][] idx = new int[nl][];
                float[][] hard = new float[nl][];
                float[][] hardW = new float[nl][];
                float[][] soft = new float[nl][];
                float[][] softW = new float[nl][];
                float[] lrs = new float[nl];
                for (int l = 0; l < nl; l++) {
                    int b = 0;
                    if (t < total[l]) {
                        int s = t % steps[l];
                        if (s == 0) {
                            // a new pass over the lane's images
                            org.persephonee.core.util.Vectors.shuffle(order[l], rnd[l]);
                            lossSum[l] = new double[nh];
                            lossN[l] = new int[nh];
                        }
                        b = Math.min(batch, order[l].length - s * batch);
                        idx[l] = Arrays.copyOfRange(order[l], s * batch, s * batch + b);
                        // the cosine schedule of DJL's tracker, at this update (DJL counts updates from 1)
                        lrs[l] = base * 0.01f + (base - base * 0.01f) / 2
                                * (float) (1 + Math.cos(Math.PI * Math.min(t + 1, total[l]) / Math.max(1, total[l])));
                    } else {
                        idx[l] = new int[0];
                    }
                    hard[l] = new float[b * k];
                    hardW[l] = new float[b];
                    soft[l] = new float[b * k];
                    softW[l] = new float[b];
                    lanes.get(l).targets().fill(idx[l], hard[l], hardW[l], soft[l], softW[l]);
                }
                for (int gi = 0; gi < groups.size(); gi++) {
                    List<Integer> at = groupAt.get(gi);
                    float[][] lo = groups.get(gi).step(idx, hard, hardW, soft, softW, config.temperature(), lrs,
                            config.weightDecay());
                    for (int l = 0; l < nl; l++) {
                        int b = idx[l].length;
                        for (int j = 0; b > 0 && j < at.size(); j++) {
                            NumericGuard.loss(phase, t + 1, lo[l][j], first.get(at.get(j)).stage() + " exit");
                            lossSum[l][at.get(j)] += lo[l][j] * b;
                            lossN[l][at.get(j)] += b;
                        }
                    }
                }
                for (int l = 0; l < nl; l++) {
                    int b = idx[l].length;
                    for (int h = 0; b > 0 && h < nh; h++) {
                        if (trainers[l][h] == null) {
                            continue;
                        }
                        if (cancelled.getAsBoolean()) {
                            throw new CancellationException("personalisation cancelled");
                        }
                        ExitHead head = lanes.get(l).heads().get(h);
                        FeatureStore fs = in[h];
                        float[] x = new float[b * fs.width()];
                        for (int i = 0; i < b; i++) {
                            fs.get(idx[l][i], x, i * fs.width());
                        }
                        Trainer tr = trainers[l][h];
                        try (NDManager m = tr.getManager().newSubManager()) {
                            NDArray xa = m.create(x, head.batchShape(b));
                            NDArray loss;
                            try (GradientCollector gc = tr.newGradientCollector()) {
                                NDArray z = tr.forward(new ai.djl.ndarray.NDList(xa)).singletonOrThrow();
                                loss = TeacherLoss.of(m, z, hard[l], hardW[l], soft[l], softW[l], b, k,
                                        config.temperature());
                                gc.backward(loss);
                            }
                            tr.step();
                            float lv = loss.getFloat();
                            NumericGuard.loss(phase, t + 1, lv, head.stage() + " exit");
                            lossSum[l][h] += lv * b;
                            lossN[l][h] += b;
                        }
                    }
                }
                progress.at(t + 1, longest, secs(t0));
                for (int l = 0; l < nl; l++) {
                    if (t >= total[l] || t % steps[l] != steps[l] - 1) {
                        continue;
                    }
                    int pass = t / steps[l] + 1;
                    double[] losses = new double[nh];
                    for (int h = 0; h < nh; h++) {
                        losses[h] = lossSum[l][h] / Math.max(1, lossN[l][h]);
                    }
                    // report in the user's epochs (passes are spread evenly over them)
                    int userEpochs = lanes.get(l).userEpochs();
                    int epoch = (int) Math.ceil(pass * (double) userEpochs / epochs[l]);
                    if (pass == epochs[l] || epoch < (int) Math.ceil((pass + 1) * (double) userEpochs / epochs[l])) {
                        copyProbes(groups, groupAt, l, lanes.get(l).heads());
                        lanes.get(l).hook().after(epoch, losses);
                    }
                }
            }
            for (int l = 0; l < nl; l++) {
                copyProbes(groups, groupAt, l, lanes.get(l).heads());
                for (ExitHead head : lanes.get(l).heads()) {
                    for (var p : head.block().getParameters()) {
                        if (p.getValue().isInitialized()) {
                            NumericGuard.finite(phase, total[l], p.getValue().getArray(), head.stage() + " exit "
                                    + p.getKey());
                        }
                    }
                }
            }
        } finally {
            for (Trainer[] row : trainers) {
                for (Trainer t : row) {
                    if (t != null) {
                        t.close();
                    }
                }
            }
            groups.forEach(LinearHeads::close);
        }
    }

    /** A second round runs when the ensemble teaches and some unlabelled image is taught (else nothing changes). */
    boolean secondRound(Targets targets) {
        return config.teacher() == Teacher.ENSEMBLE && targets.pseudoLabelled() + targets.distilled() > 0
                && config.epochs() >= 2;
    }

    /**
     * Epochs of each round of exit training: all of them in one round, or with a second round the configured
     * epochs shared between the two (the first round gets the larger half), so a second round costs no more
     * head training than one round.
     */
    int[] roundEpochs(Targets targets) {
        int e = config.epochs();
        if (!secondRound(targets)) {
            return new int[] {e};
        }
        return new int[] {(e + 1) / 2, e / 2};
    }

    /**
     * The teacher of a second round: on the first {@code n} rows, the log of the late ensemble's mean
     * probabilities (the later half of the exits and the final exit, as {@link EvalPredictions#forSelection()}
     * scores unlabelled images); other rows as they were.
     */
    float[][] lateEnsemble(List<ExitHead> exits, float[][] teacher, FeatureCache cache, int n,
                                   BooleanSupplier cancelled) {
        float[][] out = teacher.clone();
        List<ExitHead> late = exits.subList(exits.size() / 2, exits.size());
        List<float[][]> probs = new ArrayList<>();
        for (ExitHead h : late) {
            probs.add(HeadOutputs.probabilities(h, input(h, cache), 0, n, cancelled));
        }
        for (int i = 0; i < n; i++) {
            float[] mean = org.persephonee.core.util.Vectors.softmax(teacher[i], 1f);
            for (float[][] p : probs) {
                for (int c = 0; c < mean.length; c++) {
                    mean[c] += p[i][c];
                }
            }
            for (int c = 0; c < mean.length; c++) {
                mean[c] /= probs.size() + 1;
            }
            out[i] = HeadOutputs.log(mean);
        }
        return out;
    }

    /** Copies lane {@code lane}'s batched linear heads' current weights into its exit heads. */
    private static void copyProbes(List<LinearHeads> groups, List<List<Integer>> at, int lane, List<ExitHead> heads) {
        for (int g = 0; g < groups.size(); g++) {
            float[][][] all = groups.get(g).getAll(lane);
            for (int j = 0; j < at.get(g).size(); j++) {
                heads.get(at.get(g).get(j)).setLinear(all[j][0], all[j][1]);
            }
        }
    }

    /** A head's cached input rows. */
    FeatureStore input(ExitHead head, FeatureCache cache) {
        return cache.get(request(backbone, head.placement()));
    }

    private static double secs(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }
}
