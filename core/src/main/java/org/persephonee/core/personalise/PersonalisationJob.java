package org.persephonee.core.personalise;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.Stage;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.engine.Engines;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * PersEPhonEE exit personalisation (Leontiadis et al., HotMobile 2021): the backbone stays frozen; one
 * inference-mode pass caches the features at every placed exit and the final logits; then only the exit
 * heads train, on the cache, with cross-entropy on the person's labels and, for unlabelled images, the
 * final exit as teacher (hard pseudo-labels above a confidence threshold and/or distillation against its
 * softened output). Optionally the final classifier is re-fitted on the personal label space, and the
 * backbone's BatchNorm statistics are re-estimated on the person's images (AdaBN).
 *
 * <p>Runs on the calling thread; progress goes to a {@link Listener}; cancellation is polled between
 * batches and surfaces as {@link CancellationException}, leaving the backbone as it was.
 */
public final class PersonalisationJob {

    /** Phases of a run. */
    public enum Phase {
        DECODE("Decoding images"), BATCHNORM("Checking BatchNorm statistics"), CACHE("Caching features"),
        TRAIN("Training exits"), EVALUATE("Evaluating");

        private final String display;

        Phase(String display) { this.display = display; }

        public String display() { return display; }
    }

    /** Progress of a run; all methods are called on the job's thread. */
    public interface Listener {
        default void onPhase(Phase phase, String message) { }

        /** Fraction of the phase done and the phase's estimated remaining seconds. */
        default void onProgress(Phase phase, double fraction, double etaSeconds) { }

        /**
         * After each training epoch.
         *
         * @param stats per exit (and the re-fitted final, last)
         * @param snapshot current evaluation predictions, for live curves
         */
        default void onEpoch(int epoch, int epochs, List<ExitStats> stats, EvalPredictions snapshot) { }
    }


    /**
     * The re-fitted final exit: pooling the last stage to a 2x2 grid instead of one cell keeps where its
     * features fire, which global pooling loses and a strong capture shift makes matter (night-owl, 100
     * labels: 72% with global pooling, 79% with the grid).
     */
    static final HeadSpec FINAL_HEAD = HeadSpec.grid(2);


    /** A listener that ignores everything. */
    public static final Listener SILENT = new Listener() { };

    private final Backbone backbone;
    private final PersonalDataset dataset;
    private final PersonalisationConfig config;
    /** Trains the exits and the re-fitted final exit on the cache. */
    private final ExitTrainer trainer;
    /** Whether the re-trained stages were kept, and on what (null when none were trained or not validated). */
    private String retrainChoice;

    /**
     * Creates a job.
     *
     * @param backbone non-null, loaded; its weights are never changed (BatchNorm statistics are restored)
     * @param dataset non-null personal data
     * @param config non-null
     */
    public PersonalisationJob(Backbone backbone, PersonalDataset dataset, PersonalisationConfig config) {
        this.backbone = backbone;
        this.dataset = dataset;
        this.config = config;
        this.trainer = new ExitTrainer(config, backbone);
    }

    /**
     * Runs the whole job.
     *
     * @throws PersonalisationException when the data or config cannot work (message says why)
     * @throws CancellationException when cancelled
     */
    public PersonalisationResult run(Listener listener, BooleanSupplier cancelled)
            throws PersonalisationException, IOException {
        Engines.pytorch();
        // the engine uses the cores the machine has free: one thread when other programs keep the cores busy
        // (OpenMP threads that wait for a descheduled peer made runs 4-6x slower)
        int threads = Engines.setThreads(Engines.threadsForBatchWork());
        try {
            return runOnThreads(listener, cancelled);
        } finally {
            Engines.setThreads(threads);
        }
    }

    private PersonalisationResult runOnThreads(Listener listener, BooleanSupplier cancelled)
            throws PersonalisationException, IOException {
        for (ExitPlacement p : config.placements()) {
            if (backbone.stage(p.stage()) == null) {
                throw new PersonalisationException("backbone " + backbone.id() + " has no stage '" + p.stage()
                        + "' (stages: " + backbone.stages().stream().map(Stage::name).toList() + ")");
            }
        }
        Engines.pytorch();
        long tStart = System.nanoTime();
        listener.onPhase(Phase.DECODE, "Decoding " + dataset.size() + " images");
        PreparedData data = PreparedData.prepare(dataset, backbone.input(), config.labels(),
                config.holdoutFraction(), config.seed(), listener, cancelled);
        double decodeS = secs(tStart);

        // generic accuracy: the backbone as shipped, over all its classes
        Map<String, float[]> original = BnStats.snapshot(backbone);
        listener.onPhase(Phase.BATCHNORM, "Checking BatchNorm statistics (" + config.bnMode() + ")");
        long tGeneric = System.nanoTime();
        float[][] evalLogitsKeep = logits(data.evalX, cancelled);
        double generic = genericAccuracy(evalLogitsKeep, data.evalLabel);
        double genericS = secs(tGeneric);
        long t1 = System.nanoTime();
        BnDecision bn;
        try {
            bn = new BatchNormPhase(backbone, config).decide(data, original, cancelled);
        } catch (RuntimeException | Error e) {
            // cancelled or failed mid-decision: the backbone leaves as it came
            BnStats.restore(backbone, original);
            throw e;
        }
        double bnS = secs(t1);

        FeatureCache cache = null;
        List<ExitHead> heads = new ArrayList<>();
        ExitHead finalHead = null;
        RetrainedStages retrained = null;
        retrainChoice = null;
        try {
            long t2 = System.nanoTime();
            listener.onPhase(Phase.CACHE, "Running the frozen backbone once over " + (data.trainSize()
                    + data.evalSize()) + " images");
            List<float[]> all = new ArrayList<>(data.trainX);
            all.addAll(data.evalX);
            List<FeatureCache.Request> requests = new ArrayList<>();
            for (ExitPlacement p : config.placements()) {
                requests.add(request(p));
            }
            String last = backbone.stages().get(backbone.stages().size() - 1).name();
            boolean refit = config.refitFinal() && data.labelledUsed() > 0;
            if (refit) {
                requests.add(request(new ExitPlacement(last, FINAL_HEAD)));
            }
            int retrain = retrainedStages(refit);
            String retrainInput = retrain == 0 ? null
                    : backbone.stages().get(backbone.stages().size() - retrain - 1).name();
            if (retrain > 0) {
                // the input of the first re-trained stage, raw: the copy trains on it
                requests.add(FeatureCache.Request.raw(retrainInput));
            }
            // training images first: the time they take is the training cost, the rest is evaluation
            cache = FeatureCache.build(backbone, all, requests, config.cacheBudgetBytes(), config.spillDir(),
                    config.batchSize(), data.trainSize(), (f, eta) -> listener.onProgress(Phase.CACHE, f, eta),
                    cancelled);
            double cacheAllS = secs(t2);
            double cacheS = cache.markSeconds();

            int nTrain = data.trainSize();
            int nEval = data.evalSize();
            float[][] backboneLogits = rows(cache.logits(), 0, nTrain + nEval);
            PersonalLabelSpace space = PersonalLabelSpace.infer(backbone.classNames(), data.trainLabel, backboneLogits,
                    config.unlabelledRule(), config.pseudoLabelThreshold());
            // the frozen final exit as teacher, restricted to the personal label space (log-probabilities)
            float[][] teacher = new float[nTrain + nEval][];
            for (int i = 0; i < teacher.length; i++) {
                teacher[i] = logProbs(space, backboneLogits[i]);
            }
            int[] evalTruth = new int[nEval];
            for (int i = 0; i < nEval; i++) {
                String l = data.evalLabel.get(i);
                evalTruth[i] = l == null ? -1 : space.indexOf(l) < 0 ? -2 : space.indexOf(l);
            }

            long t3 = System.nanoTime();
            // predictions on the held-out images made during training are evaluation, not training
            double[] evalInTraining = {0};
            List<ExitPlacement> ordered = new ArrayList<>(config.placements());
            ordered.sort(java.util.Comparator.comparingInt(p -> backbone.stage(p.stage()).index()));
            for (ExitPlacement p : ordered) {
                heads.add(new ExitHead(p, backbone.stage(p.stage()).outputShape(), space.size()));
            }
            Targets targets;
            if (refit) {
                // stage 1: fit the final classifier to the person's labels; it then teaches the exits
                finalHead = new ExitHead(new ExitPlacement(last, FINAL_HEAD),
                        backbone.stage(last).outputShape(), space.size());
                listener.onPhase(Phase.TRAIN, "Fitting the final exit to " + data.labelledUsed() + " labelled images");
                Targets labels = Targets.labelsOnly(data, space);
                ExitHead fin = finalHead;
                trainer.fit(List.of(finalHead), labels, space, cache, true, listener, cancelled, (epoch, l) -> { });
                float[][] p = headProbabilities(fin, input(fin, cache), 0, nTrain, cancelled);
                long tEval = System.nanoTime();
                float[][] pe = headProbabilities(fin, input(fin, cache), nTrain, nEval, cancelled);
                evalInTraining[0] += secs(tEval);
                p = org.persephonee.core.util.Vectors.concatRows(p, pe);
                for (int i = 0; i < p.length; i++) {
                    teacher[i] = log(p[i]);
                }
            }
            targets = Targets.build(data, space, teacher, config);
            float[][] finalEval = null;
            float[][] refitEval = null;
            float[][] refitWeights = null;
            if (retrain > 0 && targets.used() > 0) {
                // stage 1b: a copy of the last stage(s) trains with the re-fitted head on top (from where the
                // re-fit left it), on the cached input of the first of them; together they are the final exit
                listener.onPhase(Phase.TRAIN, "Re-training the last " + (retrain == 1 ? "stage" : retrain + " stages")
                        + " on " + targets.used() + " images");
                refitWeights = finalHead.linear();
                refitEval = new float[nEval][];
                for (int i = 0; i < nEval; i++) {
                    refitEval[i] = org.persephonee.core.util.Vectors.softmax(teacher[nTrain + i], 1f);
                }
                retrained = RetrainedStages.copyOf(backbone, retrain);
                FeatureStore rin = cache.get(FeatureCache.Request.raw(retrainInput));
                retrained.train(finalHead, rin, targets, space.size(), config.epochs(), config.batchSize(), ExitTrainer.MIN_STEPS,
                        config.temperature(), config.seed() * 1000 + 900, cancelled);
                long tEval = System.nanoTime();
                finalEval = retrained.probabilities(finalHead, rin, nTrain, nEval, cancelled);
                evalInTraining[0] += secs(tEval);
            }
            if (targets.used() == 0) {
                throw new PersonalisationException("nothing to train on: no labels and no unlabelled image where "
                        + "the final exit is confident enough (lower the pseudo-label confidence, use distillation, "
                        + "or label some images)");
            }
            float[][] teacherEval = new float[nEval][];
            for (int i = 0; i < nEval; i++) {
                teacherEval[i] = finalEval != null ? finalEval[i]
                        : org.persephonee.core.util.Vectors.softmax(teacher[nTrain + i], 1f);
            }
            // stage 2: the exits learn from labels and the (personalised) final exit
            listener.onPhase(Phase.TRAIN, "Training " + heads.size() + " exit(s) for " + trainer.roundEpochs(targets)[0]
                    + " epochs" + (trainer.roundEpochs(targets).length == 2 ? " (first round of two)" : "") + " on "
                    + targets.labelled() + " labels, " + targets.pseudoLabelled() + " pseudo-labels and "
                    + targets.distilled() + " distillation targets");
            ExitHead fin = finalHead;
            FeatureCache fc = cache;
            EvalPredictions[] last2 = new EvalPredictions[1];
            // with a second round the epochs are shared between the rounds (the first gets the larger half) and
            // the live epochs run on through both, so curves and progress never step back; the kept predictions
            // are the last round's
            int[] split = trainer.roundEpochs(targets);
            int rounds = split.length;
            java.util.function.BiFunction<List<ExitHead>, Integer, ExitTrainer.EpochHook> live =
                    (exits, round) -> (epoch, l) -> {
                boolean lastEpoch = round == rounds && epoch == split[rounds - 1];
                if (!config.evalEveryEpoch() && !lastEpoch) {
                    return;
                }
                // predictions, statistics and whatever the listener does with them (live curves) are not training
                long tEval = System.nanoTime();
                EvalPredictions preds = predict(exits, fin, fc, nTrain, nEval, evalTruth, teacherEval, cancelled);
                last2[0] = preds;
                List<ExitStats> stats = new ArrayList<>();
                for (int h = 0; h < exits.size(); h++) {
                    stats.add(new ExitStats(exits.get(h).stage(), exits.get(h).head().id(), l[h],
                            preds.accuracy(preds.exit(h))));
                }
                stats.add(ExitStats.finalExit(fin == null ? null : fin.head().id(), preds.accuracy(preds.finalExit())));
                int before = round == 1 ? 0 : split[0];
                listener.onEpoch(before + epoch, java.util.Arrays.stream(split).sum(), stats, preds);
                evalInTraining[0] += secs(tEval);
            };
            List<ExitHead> exits = List.copyOf(heads);
            trainer.fit(exits, targets, space, cache, false, listener, cancelled, split, 0, live.apply(exits, 1));
            if (rounds == 2) {
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
                trainer.fit(exits, targets, space, cache, false, listener, cancelled, split, 1, live.apply(exits, 2));
            }
            EvalPredictions preds = last2[0];
            double trainS = secs(t3) - evalInTraining[0];
            long tVal = System.nanoTime();
            float[][][] refitOof = new float[1][][];
            EvalPredictions validation = config.validationFolds() > 0
                    ? new CrossFit(config, backbone, trainer).run(data, space, cache, refit ? last : null,
                            retrained == null ? 0 : retrain, ordered, backboneLogits, refitOof, listener, cancelled)
                    : null;
            if (retrained != null && validation != null && refitOof[0] != null) {
                // keep the re-trained stages only when they beat the frozen ones under the re-fitted head out of
                // fold (tilted-phone, ~10 % labels: 69.1 % re-trained vs 70.0 % frozen on the test images)
                EvalPredictions frozenOof = new EvalPredictions(validation.stages(), validation.exits(), refitOof[0],
                        validation.truth(), validation.classes());
                double kept = validation.accuracy(validation.finalExit());
                double frozen = frozenOof.accuracy(frozenOof.finalExit());
                retrainChoice = String.format(java.util.Locale.ROOT, "%s: final exit out of fold %.3f re-trained, "
                        + "%.3f frozen", kept > frozen ? "kept" : "dropped", kept, frozen);
                if (!(kept > frozen)) {
                    finalHead.setLinear(refitWeights[0], refitWeights[1]);
                    retrained.close();
                    retrained = null;
                    validation = frozenOof;
                    preds = new EvalPredictions(preds.stages(), preds.exits(), refitEval, preds.truth(),
                            preds.classes());
                }
            }
            double validationS = secs(tVal);

            PersonalisationResult result = new PersonalisationResult(backbone, config, space, data, targets,
                    heads, finalHead, retrained, retrainChoice, preds, validation, generic, bn, new PersonalisationResult.Timing(decodeS, bnS,
                    cacheS, trainS, genericS + cacheAllS - cacheS + evalInTraining[0], secs(tStart), validationS),
                    cache.spilled(), cache.heapBytes(), cache.spilledBytes());
            heads = List.of();
            finalHead = null;
            retrained = null;
            return result;
        } finally {
            if (cache != null) {
                cache.close();
            }
            heads.forEach(ExitHead::close);
            if (finalHead != null) {
                finalHead.close();
            }
            if (retrained != null) {
                retrained.close();
            }
            BnStats.restore(backbone, original);
        }
    }

    /**
     * How many last stages this run re-trains: {@code config.retrainLast()} when the final exit is re-fitted
     * (there are labels) and the backbone is declarative, else 0.
     *
     * @throws PersonalisationException when an exit sits on a stage that would be re-trained (it would read
     *                                  the frozen stage while the final exit reads the copy)
     */
    private int retrainedStages(boolean refit) throws PersonalisationException {
        int n = config.retrainLast();
        if (n == 0 || !refit || backbone.isTorchScript()) {
            return 0;
        }
        int total = backbone.stages().size();
        if (n >= total) {
            throw new PersonalisationException("cannot re-train the last " + n + " stages: " + backbone.id()
                    + " has " + total + " (at most " + (total - 1) + ")");
        }
        for (ExitPlacement p : config.placements()) {
            if (backbone.stage(p.stage()).index() >= total - n) {
                throw new PersonalisationException("the exit at " + p.stage() + " sits on a stage that would be "
                        + "re-trained (the last " + n + "): place exits before " + backbone.stages().get(total - n).name()
                        + " or re-train fewer stages");
            }
        }
        return n;
    }

    /** What the cache keeps for a placement: pooled rows for a pooling + linear head, else the stage output. */
    private FeatureCache.Request request(ExitPlacement p) {
        return ExitTrainer.request(backbone, p);
    }

    /** A head's cached input rows. */
    private FeatureStore input(ExitHead head, FeatureCache cache) {
        return trainer.input(head, cache);
    }

    private static double secs(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    /** Inference-mode logits of the whole backbone for some images. */
    private float[][] logits(List<float[]> xs, BooleanSupplier cancelled) {
        return BatchNormPhase.logits(backbone, xs, config.batchSize(), cancelled);
    }

    private double genericAccuracy(float[][] logits, List<String> labels) {
        int n = 0;
        int correct = 0;
        List<String> names = backbone.classNames();
        for (int i = 0; i < logits.length; i++) {
            String l = labels.get(i);
            if (l == null) {
                continue;
            }
            n++;
            if (names.get(org.persephonee.core.util.Vectors.argmax(logits[i])).equals(l)) {
                correct++;
            }
        }
        return n == 0 ? Double.NaN : correct / (double) n;
    }

    private EvalPredictions predict(List<ExitHead> exits, ExitHead finalHead, FeatureCache cache, int nTrain,
                                    int nEval, int[] evalTruth, float[][] teacherEval, BooleanSupplier cancelled) {
        List<float[][]> probs = new ArrayList<>();
        for (ExitHead head : exits) {
            probs.add(headProbabilities(head, input(head, cache), nTrain, nEval, cancelled));
        }
        // the final exit is fixed during exit training: its evaluation rows are the teacher's
        return new EvalPredictions(exits.stream().map(ExitHead::stage).toList(), probs, teacherEval, evalTruth,
                teacherEval.length == 0 ? 0 : teacherEval[0].length);
    }

    static float[] logProbs(PersonalLabelSpace space, float[] backboneLogits) {
        float[] p = new float[space.size()];
        space.restrictedSoftmax(backboneLogits, 0, 1f, p);
        return log(p);
    }

    static float[] log(float[] p) {
        float[] out = new float[p.length];
        for (int k = 0; k < p.length; k++) {
            out[k] = (float) Math.log(Math.max(p[k], 1e-12f));
        }
        return out;
    }

    /** Softmax outputs of a head on the cached evaluation rows. */
    static float[][] headProbabilities(ExitHead head, FeatureStore fs, int offset, int n, BooleanSupplier cancelled) {
        float[][] out = new float[n][];
        int batch = 128;
        for (int s = 0; s < n; s += batch) {
            if (cancelled.getAsBoolean()) {
                throw new CancellationException("cancelled");
            }
            int b = Math.min(batch, n - s);
            float[] x = new float[b * fs.width()];
            for (int i = 0; i < b; i++) {
                fs.get(offset + s + i, x, i * fs.width());
            }
            try (NDManager m = head.model().getNDManager().newSubManager()) {
                NDArray z = head.probePrefix() != null ? head.forwardProbe(m.create(x, new Shape(b, fs.width())))
                        : head.forward(m.create(x, head.batchShape(b)), false);
                float[] p = z.softmax(1).toFloatArray();
                int k = head.classes();
                for (int i = 0; i < b; i++) {
                    out[s + i] = Arrays.copyOfRange(p, i * k, (i + 1) * k);
                }
            }
        }
        return out;
    }

    private static float[][] rows(FeatureStore fs, int from, int to) {
        float[][] out = new float[to - from][fs.width()];
        for (int i = from; i < to; i++) {
            fs.get(i, out[i - from], 0);
        }
        return out;
    }
}
