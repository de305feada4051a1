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
     * {@link #fit} as round {@code round} of {@code split.length}: {@code split[round]} epochs, and a share of
     * the {@link #MIN_STEPS} floor as large as its share of the epochs (two rounds cost what one would).
     */
    void fit(List<ExitHead> heads, Targets targets, PersonalLabelSpace space, FeatureCache cache,
             boolean fromClassifier, Listener listener, BooleanSupplier cancelled, int[] split, int round,
             EpochHook hook) {
        int userEpochs = split[round];
        boolean allWarm = heads.stream().allMatch(warm::contains);
        int minSteps = allWarm
                ? (int) Math.ceil(MIN_STEPS * userEpochs / (double) PersonalisationConfig.DEFAULT_EPOCHS)
                : (int) Math.ceil(MIN_STEPS * userEpochs / (double) java.util.Arrays.stream(split).sum());
        // a warm head's weights, read before initialisation draws fresh ones
        java.util.Map<ExitHead, float[][]> start = new java.util.IdentityHashMap<>();
        for (ExitHead h : heads) {
            if (warm.contains(h)) {
                start.put(h, h.linear());
            }
        }
        int batch = config.batchSize();
        int[] order = targets.usedIndices();
        if (order.length == 0) {
            return;
        }
        int steps = (order.length + batch - 1) / batch;
        // few labels mean few batches per epoch: give every head at least MIN_STEPS optimiser steps
        int epochs = Math.max(userEpochs, (minSteps + steps - 1) / steps);
        int total = steps * epochs;
        float base = config.learningRate() * (fromClassifier ? REFIT_LR_SCALE : 1f);
        // each head's cached rows (pooled for probe heads), looked up once
        FeatureStore[] in = heads.stream().map(h -> input(h, cache)).toArray(FeatureStore[]::new);
        List<Integer> probeAt = new ArrayList<>();
        Trainer[] trainers = new Trainer[heads.size()];
        List<LinearHeads> groups = new ArrayList<>();
        List<List<Integer>> groupAt = new ArrayList<>();
        try {
            for (int h = 0; h < heads.size(); h++) {
                ExitHead head = heads.get(h);
                long seed = config.seed() * 1000 + h + (fromClassifier ? 500 : 0);
                if (head.probePrefix() != null) {
                    head.initialize();
                    probeAt.add(h);
                    continue;
                }
                Engines.seed(seed);
                Tracker lr = Tracker.cosine().setBaseValue(base).optFinalValue(base * 0.01f)
                        .setMaxUpdates(Math.max(1, total)).build();
                DefaultTrainingConfig tc = new DefaultTrainingConfig(Loss.l2Loss())
                        .optInitializer(new XavierInitializer(XavierInitializer.RandomType.GAUSSIAN,
                                XavierInitializer.FactorType.IN, 2), Parameter.Type.WEIGHT)
                        .optOptimizer(Optimizer.adam().optLearningRateTracker(lr)
                                .optWeightDecays(config.weightDecay()).build());
                Trainer t = head.model().newTrainer(tc);
                trainers[h] = t;
                t.initialize(head.batchShape(batch));
                if (fromClassifier) {
                    float[][] init = ClassifierInit.rows(backbone, space, head.linear()[0]);
                    if (init != null) {
                        head.setLinear(init[0], init[1]);
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
                LinearHeads g = new LinearHeads(at.stream().map(h -> in[h]).toList(),
                        space.size(), at.stream().mapToLong(h -> config.seed() * 1000 + h + (fromClassifier ? 500 : 0))
                        .toArray());
                groups.add(g);
                for (int j = 0; j < at.size(); j++) {
                    float[][] w = start.get(heads.get(at.get(j)));
                    if (w != null) {
                        g.set(j, w[0], w[1]);
                    }
                }
                if (fromClassifier && start.isEmpty()) {
                    for (int j = 0; j < at.size(); j++) {
                        float[][] init = ClassifierInit.rows(backbone, space, g.get(j)[0]);
                        if (init != null) {
                            g.set(j, init[0], init[1]);
                        }
                    }
                }
            }
            Random rnd = new Random(config.seed() + (fromClassifier ? 17 : 0));
            String phase = fromClassifier ? NumericGuard.FINAL_REFIT : NumericGuard.HEADS;
            long t0 = System.nanoTime();
            int done = 0;
            for (int pass = 1; pass <= epochs; pass++) {
                org.persephonee.core.util.Vectors.shuffle(order, rnd);
                double[] lossSum = new double[heads.size()];
                int[] lossN = new int[heads.size()];
                for (int s = 0; s < steps; s++) {
                    if (cancelled.getAsBoolean()) {
                        throw new CancellationException("personalisation cancelled");
                    }
                    int from = s * batch;
                    int b = Math.min(batch, order.length - from);
                    int[] idx = Arrays.copyOfRange(order, from, from + b);
                    float[] hard = new float[b * space.size()];
                    float[] hardW = new float[b];
                    float[] soft = new float[b * space.size()];
                    float[] softW = new float[b];
                    targets.fill(idx, hard, hardW, soft, softW);
                    for (int gi = 0; gi < groups.size(); gi++) {
                        // the cosine schedule of DJL's tracker, at this update
                        // (DJL counts updates from 1)
                        float lr = base * 0.01f + (base - base * 0.01f) / 2
                                * (float) (1 + Math.cos(Math.PI * Math.min(done + 1, total) / Math.max(1, total)));
                        List<Integer> at = groupAt.get(gi);
                        float[] l = groups.get(gi).step(idx, hard, hardW, soft, softW, config.temperature(), lr,
                                config.weightDecay());
                        for (int j = 0; j < at.size(); j++) {
                            NumericGuard.loss(phase, done + 1, l[j], heads.get(at.get(j)).stage() + " exit");
                            lossSum[at.get(j)] += l[j] * b;
                            lossN[at.get(j)] += b;
                        }
                    }
                    for (int h = 0; h < heads.size(); h++) {
                        if (trainers[h] == null) {
                            continue;
                        }
                        if (cancelled.getAsBoolean()) {
                            throw new CancellationException("personalisation cancelled");
                        }
                        ExitHead head = heads.get(h);
                        FeatureStore fs = in[h];
                        float[] x = new float[b * fs.width()];
                        for (int i = 0; i < b; i++) {
                            fs.get(idx[i], x, i * fs.width());
                        }
                        Trainer t = trainers[h];
                        try (NDManager m = t.getManager().newSubManager()) {
                            NDArray xa = m.create(x, head.batchShape(b));
                            NDArray loss;
                            try (GradientCollector gc = t.newGradientCollector()) {
                                NDArray z = t.forward(new ai.djl.ndarray.NDList(xa)).singletonOrThrow();
                                loss = TeacherLoss.of(m, z, hard, hardW, soft, softW, b, space.size(),
                                        config.temperature());
                                gc.backward(loss);
                            }
                            t.step();
                            float lv = loss.getFloat();
                            NumericGuard.loss(phase, done + 1, lv, head.stage() + " exit");
                            lossSum[h] += lv * b;
                            lossN[h] += b;
                        }
                    }
                    done++;
                    if (!fromClassifier) {
                        // the rounds of a split as one bar: this round's share of the epochs, and a time left that
                        // counts the rounds still to come at this round's pace (the bar filled once per round)
                        int all = Arrays.stream(split).sum();
                        int before = Arrays.stream(split, 0, round).sum();
                        double el = secs(t0);
                        double perEpoch = el / done * total / Math.max(1, split[round]);
                        listener.onProgress(Phase.TRAIN, (before + split[round] * done / (double) total) / all,
                                el / done * (total - done) + perEpoch * (all - before - split[round]));
                    }
                }
                double[] losses = new double[heads.size()];
                for (int h = 0; h < heads.size(); h++) {
                    losses[h] = lossSum[h] / Math.max(1, lossN[h]);
                }
                // report in the user's epochs (passes are spread evenly over them)
                int epoch = (int) Math.ceil(pass * (double) userEpochs / epochs);
                if (pass == epochs || epoch < (int) Math.ceil((pass + 1) * (double) userEpochs / epochs)) {
                    copyProbes(groups, groupAt, heads);
                    hook.after(epoch, losses);
                }
            }
            copyProbes(groups, groupAt, heads);
            for (int h = 0; h < heads.size(); h++) {
                for (var p : heads.get(h).block().getParameters()) {
                    if (p.getValue().isInitialized()) {
                        NumericGuard.finite(phase, done, p.getValue().getArray(), heads.get(h).stage() + " exit "
                                + p.getKey());
                    }
                }
            }
        } finally {
            for (Trainer t : trainers) {
                if (t != null) {
                    t.close();
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

    /** Copies the batched linear heads' current weights into their exit heads. */
    private static void copyProbes(List<LinearHeads> groups, List<List<Integer>> at, List<ExitHead> heads) {
        for (int g = 0; g < groups.size(); g++) {
            float[][][] all = groups.get(g).getAll();
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
