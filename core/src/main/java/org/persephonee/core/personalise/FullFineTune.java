package org.persephonee.core.personalise;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.SequentialBlock;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneFormatException;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.backbone.Stage;
import org.persephonee.core.engine.Engines;
import org.persephonee.core.engine.NumericGuard;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;
import org.persephonee.core.exits.HeadType;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * The baseline PersEPhonEE is compared with: fine-tuning the whole network (every stage and a final
 * classifier on the personal label space) on the same images, labels and teacher targets as an exit run.
 * BatchNorm layers train normally (statistics included). No exits: the result is one final classifier.
 */
public final class FullFineTune {

    /**
     * Outcome of a full fine-tuning run.
     *
     * @param accuracy on the same evaluation images as the exit run
     * @param trainingSeconds wall time of the training epochs
     * @param epochs epochs run
     * @param epochAccuracy accuracy after each epoch (the last equals {@code accuracy})
     * @param epochSeconds training seconds up to the end of each epoch (evaluation not counted)
     */
    public record Result(double accuracy, double trainingSeconds, int epochs, double[] epochAccuracy,
                         double[] epochSeconds) {

        /** Training seconds until the first epoch that reaches {@code accuracy}; NaN when none does. */
        public double secondsToReach(double target) {
            for (int e = 0; e < epochAccuracy.length; e++) {
                if (epochAccuracy[e] >= target - 1e-9) {
                    return epochSeconds[e];
                }
            }
            return Double.NaN;
        }
    }

    private FullFineTune() { }

    /**
     * Fine-tunes a fresh copy of the backbone loaded from {@code backboneDir}.
     *
     * @param exitRun the exit personalisation whose data, label space and targets are reused
     * @param learningRate SGD learning rate (momentum 0.9, cosine decay)
     */
    public static Result run(Path backboneDir, PersonalisationResult exitRun, int epochs, float learningRate,
                             BooleanSupplier cancelled) throws BackboneFormatException {
        return run(backboneDir, exitRun, epochs, learningRate, cancelled, stage -> true, null);
    }

    /**
     * As {@link #run(Path, PersonalisationResult, int, float, BooleanSupplier)} with only the stages
     * {@code trainable} accepts (by index) learning their weights, and {@code input} (may be null) a block before the
     * first stage that trains too: the session-36 experiment on where full fine-tuning's lead lies
     * ({@code FineTuneScopeExperiment}). Frozen stages still run BatchNorm on batch statistics, as every stage does here.
     */
    static Result run(Path backboneDir, PersonalisationResult exitRun, int epochs, float learningRate,
                      BooleanSupplier cancelled, java.util.function.IntPredicate trainable, ai.djl.nn.Block input)
            throws BackboneFormatException {
        if (epochs < 1) {
            throw new IllegalArgumentException("full fine-tuning needs at least one epoch, got " + epochs);
        }
        PreparedData data = exitRun.data();
        Targets targets = exitRun.targets();
        PersonalLabelSpace space = exitRun.labelSpace();
        PersonalisationConfig cfg = exitRun.config();
        Engines.seed(cfg.seed());
        try (Backbone bb = BackboneIO.load(backboneDir, true)) {
            if (exitRun.batchNorm().adapted()) {
                BnStats.restore(bb, exitRun.batchNorm().stats());
            }
            Stage last = bb.stages().get(bb.stages().size() - 1);
            try (ExitHead head = new ExitHead(new ExitPlacement(last.name(), HeadSpec.of(HeadType.LINEAR)),
                    last.outputShape(), space.size());
                 Model model = Model.newInstance("full-finetune", Device.cpu(), "PyTorch")) {
                head.initialize();
                SequentialBlock net = new SequentialBlock();
                if (input != null) {
                    net.add(input);
                }
                for (Stage s : bb.stages()) {
                    net.add(s.block());
                }
                net.add(head.block());
                model.setBlock(net);
                int batch = cfg.batchSize();
                int[] order = targets.usedIndices();
                int steps = (order.length + batch - 1) / batch;
                DefaultTrainingConfig tc = new DefaultTrainingConfig(Loss.l2Loss())
                        .optOptimizer(Optimizer.sgd().setLearningRateTracker(Tracker.cosine().setBaseValue(learningRate)
                                        .optFinalValue(learningRate * 0.01f).setMaxUpdates(Math.max(1, steps * epochs)).build())
                                .optMomentum(0.9f).optWeightDecays(5e-4f).build());
                int size = bb.input().size();
                Random rnd = new Random(cfg.seed());
                double[] epochAcc = new double[epochs];
                double[] epochSecs = new double[epochs];
                double secs = 0;
                try (Trainer t = model.newTrainer(tc)) {
                    t.initialize(bb.batchShape(batch));
                    for (int i = 0; i < bb.stages().size(); i++) {
                        if (!trainable.test(i)) {
                            bb.stages().get(i).block().freezeParameters(true);
                        }
                    }
                    for (int e = 0; e < epochs; e++) {
                        long t0 = System.nanoTime();
                        org.persephonee.core.util.Vectors.shuffle(order, rnd);
                        for (int s = 0; s < steps; s++) {
                            if (cancelled.getAsBoolean()) {
                                throw new CancellationException("full fine-tuning cancelled");
                            }
                            int from = s * batch;
                            int b = Math.min(batch, order.length - from);
                            int[] idx = Arrays.copyOfRange(order, from, from + b);
                            float[] x = new float[b * size];
                            for (int i = 0; i < b; i++) {
                                System.arraycopy(data.trainX.get(idx[i]), 0, x, i * size, size);
                            }
                            float[] hard = new float[b * space.size()];
                            float[] hardW = new float[b];
                            float[] soft = new float[b * space.size()];
                            float[] softW = new float[b];
                            targets.fill(idx, hard, hardW, soft, softW);
                            try (NDManager m = t.getManager().newSubManager()) {
                                float lv;
                                try (GradientCollector gc = t.newGradientCollector()) {
                                    NDArray z = t.forward(new NDList(m.create(x, bb.batchShape(b)))).singletonOrThrow();
                                    NDArray loss = TeacherLoss.of(m, z, hard, hardW, soft, softW, b, space.size(),
                                            cfg.temperature());
                                    gc.backward(loss);
                                    lv = loss.getFloat();
                                }
                                NumericGuard.loss(NumericGuard.FULL_FINE_TUNE, e * steps + s + 1, lv, null);
                                t.step();
                            }
                        }
                        secs += (System.nanoTime() - t0) / 1e9;
                        epochSecs[e] = secs;
                        epochAcc[e] = exitRun.predictions().accuracy(evaluate(net, model, bb, data.evalX, space.size()));
                    }
                }
                return new Result(epochAcc[epochs - 1], secs, epochs, epochAcc, epochSecs);
            }
        }
    }

    /** Softmax outputs of the network in inference mode. */
    private static float[][] evaluate(SequentialBlock net, Model model, Backbone bb, List<float[]> ev, int classes) {
        int size = bb.input().size();
        float[][] probs = new float[ev.size()][];
        for (int s = 0; s < ev.size(); s += 128) {
            int b = Math.min(128, ev.size() - s);
            float[] x = new float[b * size];
            for (int i = 0; i < b; i++) {
                System.arraycopy(ev.get(s + i), 0, x, i * size, size);
            }
            try (NDManager m = model.getNDManager().newSubManager()) {
                float[] p = net.forward(new ParameterStore(m, false), new NDList(m.create(x, bb.batchShape(b))),
                        false).singletonOrThrow().softmax(1).toFloatArray();
                for (int i = 0; i < b; i++) {
                    probs[s + i] = Arrays.copyOfRange(p, i * classes, (i + 1) * classes);
                }
            }
        }
        return probs;
    }
}
