package org.persephonee.core.pretrain;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
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
import org.persephonee.core.backbone.InputSpec;
import org.persephonee.core.data.FashionMnist;
import org.persephonee.core.engine.Engines;

import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * Pretrains a backbone on Fashion-MNIST training images with SGD, warm-up + cosine learning rate and
 * light augmentation; evaluates on the test split after each epoch (reported only, never used to pick
 * a checkpoint: the last epoch is the result).
 */
public final class Pretrainer {

    /** Progress of a pretraining run. */
    public interface Listener {
        /** Called every few steps. */
        default void onStep(int epoch, int step, int stepsPerEpoch, float loss, float trainAccuracy, float lr,
                            double elapsedSeconds, double etaSeconds) { }

        /** Called after each epoch with the test accuracy. */
        default void onEpoch(int epoch, float trainLoss, float trainAccuracy, float testAccuracy,
                             double elapsedSeconds) { }
    }

    /** Result of a run. */
    public record Result(float testAccuracy, float trainAccuracy, double seconds, int epochs) { }

    private final PretrainConfig config;

    public Pretrainer(PretrainConfig config) {
        this.config = config;
    }

    /**
     * Trains the backbone's parameters from scratch.
     *
     * @param backbone non-null, uninitialised backbone built from a spec
     * @param train non-null training split
     * @param test non-null test split (reporting only)
     * @param listener non-null progress listener
     * @param cancelled polled every step; true stops the run with {@link CancellationException}
     */
    public Result train(Backbone backbone, FashionMnist train, FashionMnist test, Listener listener,
                        BooleanSupplier cancelled) {
        Engines.seed(config.seed());
        InputSpec in = backbone.input();
        int n = train.size();
        int batch = config.batchSize();
        int stepsPerEpoch = n / batch;
        int totalSteps = stepsPerEpoch * config.epochs();
        int warmup = stepsPerEpoch;
        float peak = config.learningRate();
        Tracker lr = new Tracker() {
            @Override
            public float getNewValue(int numUpdate) {
                if (numUpdate < warmup) {
                    return peak * (numUpdate + 1) / warmup;
                }
                double t = Math.min(1.0, (numUpdate - warmup) / (double) Math.max(1, totalSteps - warmup));
                return (float) (peak * 0.5 * (1 + Math.cos(Math.PI * t)));
            }
        };
        DefaultTrainingConfig tc = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                .optInitializer(new XavierInitializer(XavierInitializer.RandomType.GAUSSIAN,
                        XavierInitializer.FactorType.IN, 2), Parameter.Type.WEIGHT)
                .optOptimizer(Optimizer.sgd().setLearningRateTracker(lr).optMomentum(config.momentum())
                        .optWeightDecays(config.weightDecay()).build());
        Random rnd = new Random(config.seed());
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        int size = in.size();
        float[] x = new float[batch * size];
        float[] y = new float[batch];
        float[] tmp = new float[28 * 28];
        long start = System.nanoTime();
        float testAcc = 0;
        float trainAcc = 0;
        try (Trainer trainer = backbone.model().newTrainer(tc)) {
            trainer.initialize(backbone.batchShape(batch));
            int done = 0;
            for (int epoch = 1; epoch <= config.epochs(); epoch++) {
                org.persephonee.core.util.Vectors.shuffle(order, rnd);
                double lossSum = 0;
                long correct = 0;
                long seen = 0;
                for (int s = 0; s < stepsPerEpoch; s++) {
                    if (cancelled.getAsBoolean()) {
                        throw new CancellationException("pretraining cancelled");
                    }
                    for (int b = 0; b < batch; b++) {
                        int idx = order[s * batch + b];
                        fill(train.images()[idx], x, b * size, config.augment() ? rnd : null);
                        if (config.photometric()) {
                            jitter(x, b * size, rnd, tmp);
                        }
                        in.normalise(x, b * size);
                        y[b] = train.labels()[idx];
                    }
                    try (NDManager m = trainer.getManager().newSubManager()) {
                        NDArray xa = m.create(x, backbone.batchShape(batch));
                        NDArray ya = m.create(y);
                        NDArray logits;
                        NDArray loss;
                        try (GradientCollector gc = trainer.newGradientCollector()) {
                            logits = trainer.forward(new NDList(xa)).singletonOrThrow();
                            loss = trainer.getLoss().evaluate(new NDList(ya), new NDList(logits));
                            gc.backward(loss);
                        }
                        trainer.step();
                        float l = loss.getFloat();
                        org.persephonee.core.engine.NumericGuard.loss(org.persephonee.core.engine.NumericGuard.PRETRAIN,
                                done + 1, l, null);
                        long c = logits.argMax(1).toType(ai.djl.ndarray.types.DataType.FLOAT32, false).eq(ya)
                                .sum().getLong();
                        lossSum += l * batch;
                        correct += c;
                        seen += batch;
                    }
                    done++;
                    if (s % 50 == 0 || s == stepsPerEpoch - 1) {
                        double el = (System.nanoTime() - start) / 1e9;
                        listener.onStep(epoch, s + 1, stepsPerEpoch, (float) (lossSum / seen), correct / (float) seen,
                                lr.getNewValue(done), el, el / done * (totalSteps - done));
                    }
                }
                trainAcc = correct / (float) seen;
                testAcc = accuracy(backbone, test, 256);
                listener.onEpoch(epoch, (float) (lossSum / seen), trainAcc, testAcc,
                        (System.nanoTime() - start) / 1e9);
            }
        }
        return new Result(testAcc, trainAcc, (System.nanoTime() - start) / 1e9, config.epochs());
    }


    /**
     * Photometric jitter of one 28x28 image in x (values in [0, 1]) in place: contrast about mid-grey, brightness,
     * sometimes a 3x3 binomial blur (zero outside the image), then Gaussian noise; clamped to [0, 1].
     */
    static void jitter(float[] x, int off, Random rnd, float[] tmp) {
        float contrast = 0.4f + 0.8f * rnd.nextFloat();
        float bright = 0.35f * (rnd.nextFloat() - 0.5f);
        for (int i = 0; i < 28 * 28; i++) {
            x[off + i] = (x[off + i] - 0.5f) * contrast + 0.5f + bright;
        }
        if (rnd.nextFloat() < 0.3f) {
            System.arraycopy(x, off, tmp, 0, 28 * 28);
            for (int r = 0; r < 28; r++) {
                for (int c = 0; c < 28; c++) {
                    float s = 0f;
                    for (int dr = -1; dr <= 1; dr++) {
                        int rr = r + dr;
                        if (rr < 0 || rr >= 28) {
                            continue;
                        }
                        for (int dc = -1; dc <= 1; dc++) {
                            int cc = c + dc;
                            if (cc >= 0 && cc < 28) {
                                s += tmp[rr * 28 + cc] * (dr == 0 ? 2 : 1) * (dc == 0 ? 2 : 1);
                            }
                        }
                    }
                    x[off + r * 28 + c] = s / 16f;
                }
            }
        }
        float sigma = 0.08f * rnd.nextFloat();
        for (int i = 0; i < 28 * 28; i++) {
            float v = x[off + i] + sigma * (float) rnd.nextGaussian();
            x[off + i] = Math.max(0f, Math.min(1f, v));
        }
    }

    /** Copies a 28x28 image into x as [0,1] floats, optionally shifted by up to 2 px and mirrored. */
    private static void fill(byte[] img, float[] x, int off, Random rnd) {
        int dx = 0;
        int dy = 0;
        boolean flip = false;
        if (rnd != null) {
            dx = rnd.nextInt(5) - 2;
            dy = rnd.nextInt(5) - 2;
            flip = rnd.nextBoolean();
        }
        for (int r = 0; r < 28; r++) {
            int sr = r + dy;
            for (int c = 0; c < 28; c++) {
                int sc = (flip ? 27 - c : c) + dx;
                float v = 0f;
                if (sr >= 0 && sr < 28 && sc >= 0 && sc < 28) {
                    v = (img[sr * 28 + sc] & 0xff) / 255f;
                }
                x[off + r * 28 + c] = v;
            }
        }
    }

    /**
     * Top-1 accuracy of the backbone (inference mode) on a Fashion-MNIST split.
     *
     * @param backbone non-null, trained
     * @param data non-null
     * @param batch images per forward pass
     */
    public static float accuracy(Backbone backbone, FashionMnist data, int batch) {
        int[] pred = predict(backbone, data.images(), batch);
        long correct = 0;
        for (int i = 0; i < pred.length; i++) {
            if (pred[i] == data.labels()[i]) {
                correct++;
            }
        }
        return correct / (float) pred.length;
    }

    /** Predicted class index per 28x28 grayscale image. */
    public static int[] predict(Backbone backbone, byte[][] images, int batch) {
        InputSpec in = backbone.input();
        int size = in.size();
        int[] out = new int[images.length];
        for (int start = 0; start < images.length; start += batch) {
            int b = Math.min(batch, images.length - start);
            float[] x = new float[b * size];
            for (int i = 0; i < b; i++) {
                fill(images[start + i], x, i * size, null);
                in.normalise(x, i * size);
            }
            try (NDManager m = backbone.manager().newSubManager()) {
                NDArray logits = backbone.logits(m.create(x, backbone.batchShape(b)));
                long[] p = logits.argMax(1).toLongArray();
                for (int i = 0; i < b; i++) {
                    out[start + i] = (int) p[i];
                }
            }
        }
        return out;
    }
}
