package org.persephonee.core.personalise;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.util.Pair;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneSource;
import org.persephonee.core.backbone.LayerSpec;
import org.persephonee.core.backbone.Stage;
import org.persephonee.core.engine.Engines;
import org.persephonee.core.engine.NumericGuard;
import org.persephonee.core.exits.ExitHead;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * A trainable copy of the backbone's last stage(s) that, with the re-fitted final head on top, becomes the
 * personalised final exit. It trains on the cached input of its first stage (the output of the stage before),
 * so the person's frozen pass is still paid once; the backbone itself is never changed. The copy starts from
 * the backbone's weights and its BatchNorm statistics as the run left them (shipped or adapted, see
 * {@link BnMode}); during training its BatchNorm layers use batch statistics and update their running
 * statistics, as full fine-tuning does. Its cost at inference is that of the stages it replaces.
 *
 * <p>Owns a DJL {@link Model}: close it.
 */
public final class RetrainedStages implements AutoCloseable {

    /**
     * SGD learning rate, momentum and weight decay: full fine-tuning's, so the two differ only in what trains.
     * Measured (seed 42, all labels, last stage, night-owl / tilted-phone final exit): 0.01 gives 89.5 / 73.4 %,
     * 0.003 gives 87.3 / 75.0 %; BatchNorm statistics frozen during training instead of batch statistics
     * 89.3 / 71.6 %.
     */
    static final float LEARNING_RATE = 0.01f;
    static final float MOMENTUM = 0.9f;
    static final float WEIGHT_DECAY = 5e-4f;

    /** Phase name for {@link NumericGuard} messages and fault injection. */
    public static final String PHASE = "last-stage re-training";

    private final List<String> stages;
    private final String inputStage;
    private final long[] inputShape;
    private final SequentialBlock block;
    private final Model model;

    private RetrainedStages(List<String> stages, String inputStage, long[] inputShape, SequentialBlock block,
                            Model model) {
        this.stages = List.copyOf(stages);
        this.inputStage = inputStage;
        this.inputShape = inputShape.clone();
        this.block = block;
        this.model = model;
    }

    /**
     * Builds the stage blocks of the last {@code n} stages of a declarative backbone, uninitialised.
     *
     * @throws IllegalArgumentException when the backbone is a TorchScript bundle or n is out of range
     */
    static RetrainedStages blank(Backbone bb, int n) {
        if (!(bb.source() instanceof BackboneSource.Declarative declarative)) {
            throw new IllegalArgumentException("re-training stages needs a declarative backbone: TorchScript stages "
                    + "are traced in inference mode");
        }
        int total = bb.stages().size();
        if (n < 1 || n >= total) {
            throw new IllegalArgumentException("can re-train 1 to " + (total - 1) + " last stages of " + bb.id()
                    + ", not " + n);
        }
        SequentialBlock block = new SequentialBlock();
        List<String> names = new ArrayList<>();
        for (int i = total - n; i < total; i++) {
            block.add(LayerSpec.sequence(declarative.spec().stages.get(i).layers()));
            names.add(bb.stages().get(i).name());
        }
        Stage in = bb.stages().get(total - n - 1);
        Engines.pytorch();
        Model model = Model.newInstance("retrained-" + names.get(0), Device.cpu(), "PyTorch");
        model.setBlock(block);
        return new RetrainedStages(names, in.name(), in.outputShape(), block, model);
    }

    /**
     * A copy of the backbone's last {@code n} stages with their current weights and BatchNorm statistics.
     *
     * @param bb non-null declarative backbone, in the BatchNorm state the run chose
     * @param n 1 to (stages - 1)
     */
    public static RetrainedStages copyOf(Backbone bb, int n) {
        RetrainedStages r = blank(bb, n);
        try {
            r.block.initialize(r.model.getNDManager(), DataType.FLOAT32, r.batchShape(1));
            int total = bb.stages().size();
            for (int j = 0; j < n; j++) {
                var src = bb.stages().get(total - n + j).block().getParameters();
                var dst = r.block.getChildren().values().get(j).getParameters();
                if (src.size() != dst.size()) {
                    throw new IllegalStateException("stage copy of " + r.stages.get(j) + " has " + dst.size()
                            + " parameters, the backbone's " + src.size());
                }
                for (int p = 0; p < src.size(); p++) {
                    NDArray a = src.get(p).getValue().getArray();
                    NDArray b = dst.get(p).getValue().getArray();
                    if (!a.getShape().equals(b.getShape())) {
                        throw new IllegalStateException("stage copy of " + r.stages.get(j) + ": parameter "
                                + dst.get(p).getKey() + " " + b.getShape() + " vs " + a.getShape());
                    }
                    b.set(a.toFloatArray());
                }
            }
            return r;
        } catch (RuntimeException e) {
            r.close();
            throw e;
        }
    }

    /** Names of the re-trained stages, in order. */
    public List<String> stages() { return stages; }

    /** The stage whose (frozen) output the copy reads. */
    public String inputStage() { return inputStage; }

    public long[] inputShape() { return inputShape.clone(); }

    public SequentialBlock block() { return block; }

    /** Batch shape {@code (n, C, H, W)} of the copy's input. */
    public Shape batchShape(long n) {
        return new Shape(n, inputShape[0], inputShape[1], inputShape[2]);
    }

    /** The copy's output for a batch of its input, inference mode. */
    public NDArray forward(NDArray x) {
        return block.forward(new ParameterStore(x.getManager(), false), new NDList(x), false).singletonOrThrow();
    }

    /** The copy's weights and BatchNorm statistics in DJL's parameter format. */
    public byte[] saveWeights() throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bos)) {
            block.saveParameters(out);
        }
        return bos.toByteArray();
    }

    /**
     * The copy of a backbone's last {@code n} stages with weights saved by {@link #saveWeights()}.
     *
     * @throws MalformedModelException when the weights do not fit the stages
     */
    public static RetrainedStages load(Backbone bb, int n, byte[] data) throws IOException, MalformedModelException {
        RetrainedStages r = blank(bb, n);
        try {
            r.block.initialize(r.model.getNDManager(), DataType.FLOAT32, r.batchShape(1));
            java.util.Map<String, Shape> want = new java.util.HashMap<>();
            for (Pair<String, Parameter> p : r.block.getParameters()) {
                want.put(p.getKey(), p.getValue().getArray().getShape());
            }
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
                r.block.loadParameters(r.model.getNDManager(), in);
                if (in.read() != -1) {
                    throw new MalformedModelException("unexpected bytes after the last parameter");
                }
            } catch (java.io.EOFException e) {
                throw new MalformedModelException("truncated stage weights", e);
            }
            for (Pair<String, Parameter> p : r.block.getParameters()) {
                if (!p.getValue().getArray().getShape().equals(want.get(p.getKey()))) {
                    throw new MalformedModelException("stage weight " + p.getKey() + " has shape "
                            + p.getValue().getArray().getShape() + ", expected " + want.get(p.getKey()));
                }
            }
            return r;
        } catch (IOException | MalformedModelException | RuntimeException e) {
            r.close();
            throw e;
        }
    }

    /**
     * Trains the copy and a head on top of it (the re-fitted final head, already fitted on the frozen stage's
     * output: training starts where it stands) on cached inputs, with labels and teacher targets. SGD with
     * momentum and cosine decay, as full fine-tuning; seeded; every loss and the final weights checked finite.
     *
     * @param head the final head, attached at the last stage; trained in place
     * @param input cached inputs of the first re-trained stage (rows as {@link Targets} indexes them)
     * @param epochs passes over the used images (at least {@code minSteps} optimiser steps in all)
     * @return seconds spent
     */
    double train(ExitHead head, FeatureStore input, Targets targets, int classes, int epochs, int batch,
                 int minSteps, float temperature, long seed, BooleanSupplier cancelled) {
        int[] order = targets.usedIndices().clone();
        if (order.length == 0) {
            return 0;
        }
        long t0 = System.nanoTime();
        int steps = (order.length + batch - 1) / batch;
        int passes = Math.max(epochs, (minSteps + steps - 1) / steps);
        int total = steps * passes;
        Engines.seed(seed);
        SequentialBlock net = new SequentialBlock();
        net.add(block);
        net.add(head.block());
        DefaultTrainingConfig tc = new DefaultTrainingConfig(Loss.l2Loss())
                .optOptimizer(Optimizer.sgd().setLearningRateTracker(Tracker.cosine().setBaseValue(LEARNING_RATE)
                                .optFinalValue(LEARNING_RATE * 0.01f).setMaxUpdates(Math.max(1, total)).build())
                        .optMomentum(MOMENTUM).optWeightDecays(WEIGHT_DECAY).build());
        int width = input.width();
        Random rnd = new Random(seed);
        int done = 0;
        try (Model m0 = Model.newInstance("retrain-" + stages.get(0), Device.cpu(), "PyTorch")) {
            m0.setBlock(net);
            try (Trainer t = m0.newTrainer(tc)) {
                t.initialize(batchShape(batch));
                for (int pass = 0; pass < passes; pass++) {
                    org.persephonee.core.util.Vectors.shuffle(order, rnd);
                    for (int s = 0; s < steps; s++) {
                        if (cancelled.getAsBoolean()) {
                            throw new CancellationException("personalisation cancelled");
                        }
                        int from = s * batch;
                        int b = Math.min(batch, order.length - from);
                        int[] idx = Arrays.copyOfRange(order, from, from + b);
                        float[] x = new float[b * width];
                        for (int i = 0; i < b; i++) {
                            input.get(idx[i], x, i * width);
                        }
                        float[] hard = new float[b * classes];
                        float[] hardW = new float[b];
                        float[] soft = new float[b * classes];
                        float[] softW = new float[b];
                        targets.fill(idx, hard, hardW, soft, softW);
                        try (NDManager m = t.getManager().newSubManager()) {
                            float lv;
                            try (GradientCollector gc = t.newGradientCollector()) {
                                NDArray z = t.forward(new NDList(m.create(x, batchShape(b)))).singletonOrThrow();
                                NDArray loss = TeacherLoss.of(m, z, hard, hardW, soft, softW, b, classes, temperature);
                                gc.backward(loss);
                                lv = loss.getFloat();
                            }
                            done++;
                            NumericGuard.loss(PHASE, done, lv, stages + " re-training");
                            t.step();
                        }
                    }
                }
            }
            for (Pair<String, Parameter> p : net.getParameters()) {
                if (p.getValue().isInitialized()) {
                    NumericGuard.finite(PHASE, done, p.getValue().getArray(),
                            "re-trained " + p.getKey());
                }
            }
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    /** Softmax outputs of the copy and the head on cached input rows {@code [offset, offset + n)}. */
    float[][] probabilities(ExitHead head, FeatureStore input, int offset, int n, BooleanSupplier cancelled) {
        float[][] out = new float[n][];
        int width = input.width();
        for (int s = 0; s < n; s += 128) {
            if (cancelled.getAsBoolean()) {
                throw new CancellationException("cancelled");
            }
            int b = Math.min(128, n - s);
            float[] x = new float[b * width];
            for (int i = 0; i < b; i++) {
                input.get(offset + s + i, x, i * width);
            }
            try (NDManager m = model.getNDManager().newSubManager()) {
                float[] p = head.forward(forward(m.create(x, batchShape(b))), false).softmax(1).toFloatArray();
                int k = head.classes();
                for (int i = 0; i < b; i++) {
                    out[s + i] = Arrays.copyOfRange(p, i * k, (i + 1) * k);
                }
            }
        }
        return out;
    }

    @Override
    public void close() {
        model.close();
    }
}
