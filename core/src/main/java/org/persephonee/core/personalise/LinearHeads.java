package org.persephonee.core.personalise;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import java.util.List;
import java.util.Random;

/**
 * Several linear classifiers trained at once on cached probe features (one per exit whose head is
 * parameter-free pooling + one linear layer). Each optimiser step is one batched matrix product over all
 * heads, padded to the widest input, instead of a few dozen small operations per head: on the sample
 * backbone the per-operation overhead of libtorch, not arithmetic, was most of the exits' training time.
 *
 * <p>The heads stay independent: each has its own weights, initialisation and loss; the gradients of
 * their summed loss are their own losses' gradients, and Adam works element-wise. Padded input columns
 * are zero and their weights start at zero, so they stay zero.
 */
final class LinearHeads implements AutoCloseable {
    private static final float BETA1 = 0.9f;
    private static final float BETA2 = 0.999f;
    private static final float EPS = 1e-8f;

    private final NDManager manager;
    private final List<FeatureStore> inputs;
    private final int heads;
    private final int width;
    private final int classes;
    private final NDArray w;
    private final NDArray b;
    private final NDArray mW;
    private final NDArray vW;
    private final NDArray mB;
    private final NDArray vB;
    private int updates;
    private final NDArray resident;

    /**
     * Creates heads with Gaussian initial weights (std sqrt(2 / inputs), He initialisation) and zero biases.
     *
     * @param inputs one feature store per head (rows = images)
     * @param seeds one seed per head
     */
    LinearHeads(List<FeatureStore> inputs, int classes, long[] seeds) {
        this.inputs = List.copyOf(inputs);
        this.heads = inputs.size();
        this.classes = classes;
        int max = 1;
        for (FeatureStore f : inputs) {
            max = Math.max(max, f.width());
        }
        this.width = max;
        float[] init = new float[heads * width * classes];
        for (int h = 0; h < heads; h++) {
            Random r = new Random(seeds[h]);
            int d = inputs.get(h).width();
            double std = Math.sqrt(2.0 / d);
            // stored as (in, classes) per head for the batched product; generated class by class like (classes, in)
            for (int k = 0; k < classes; k++) {
                for (int i = 0; i < d; i++) {
                    init[(h * width + i) * classes + k] = (float) (r.nextGaussian() * std);
                }
            }
        }
        org.persephonee.core.engine.Engines.pytorch();
        manager = NDManager.newBaseManager(Device.cpu(), "PyTorch");
        w = manager.create(init, new Shape(heads, width, classes));
        b = manager.zeros(new Shape(heads, 1, classes));
        mW = manager.zeros(w.getShape());
        vW = manager.zeros(w.getShape());
        mB = manager.zeros(b.getShape());
        vB = manager.zeros(b.getShape());
        w.setRequiresGradient(true);
        b.setRequiresGradient(true);
        resident = residentRows();
    }

    /** Largest cache (bytes) kept in native memory for the batch gather; larger or spilled caches are read per step. */
    static final long RESIDENT_LIMIT = 256L << 20;

    /**
     * Every head's cached rows in one native {@code (heads, rows, width)} tensor (zero-padded), so that a step
     * gathers its batch with one index operation instead of copying it from the Java heap (a 2 MiB array per
     * step on the sample backbones, plus the copy into native memory); {@code null} when the rows are spilled
     * to disk, differ in count, or exceed {@link #RESIDENT_LIMIT}.
     */
    private NDArray residentRows() {
        int rows = inputs.get(0).rows();
        for (FeatureStore f : inputs) {
            if (f.spilled() || f.rows() != rows) {
                return null;
            }
        }
        if (4L * heads * rows * width > RESIDENT_LIMIT) {
            return null;
        }
        NDArray all = manager.zeros(new Shape(heads, rows, width));
        for (int h = 0; h < heads; h++) {
            FeatureStore f = inputs.get(h);
            int d = f.width();
            float[] x = new float[rows * d];
            for (int r = 0; r < rows; r++) {
                f.get(r, x, r * d);
            }
            try (NDManager m = manager.newSubManager()) {
                all.set(new ai.djl.ndarray.index.NDIndex("{}, :, :{}", h, d), m.create(x, new Shape(rows, d)));
            }
        }
        return all;
    }

    /** Whether the cached rows live in native memory (see {@link #residentRows()}). */
    boolean resident() { return resident != null; }

    int size() { return heads; }

    /** Replaces one head's weights ({@code classes x in}, row-major, as a DJL linear layer keeps them) and bias. */
    void set(int h, float[] weight, float[] bias) {
        int d = inputs.get(h).width();
        if (weight.length != classes * d || bias.length != classes) {
            throw new IllegalArgumentException("weights for head " + h + " do not fit " + classes + "x" + d);
        }
        float[] all = w.toFloatArray();
        for (int k = 0; k < classes; k++) {
            for (int i = 0; i < d; i++) {
                all[(h * width + i) * classes + k] = weight[k * d + i];
            }
        }
        float[] bs = b.toFloatArray();
        System.arraycopy(bias, 0, bs, h * classes, classes);
        w.set(all);
        b.set(bs);
    }

    /** One head's weights ({@code classes x in}, row-major) and bias. */
    float[][] get(int h) {
        return get(h, w.toFloatArray(), b.toFloatArray());
    }

    /** Every head's weights and bias, from one copy of the parameters. */
    float[][][] getAll() {
        float[] all = w.toFloatArray();
        float[] bs = b.toFloatArray();
        float[][][] out = new float[heads][][];
        for (int h = 0; h < heads; h++) {
            out[h] = get(h, all, bs);
        }
        return out;
    }

    private float[][] get(int h, float[] all, float[] bs) {
        int d = inputs.get(h).width();
        float[] weight = new float[classes * d];
        for (int k = 0; k < classes; k++) {
            for (int i = 0; i < d; i++) {
                weight[k * d + i] = all[(h * width + i) * classes + k];
            }
        }
        float[] bias = new float[classes];
        System.arraycopy(bs, h * classes, bias, 0, classes);
        return new float[][] {weight, bias};
    }

    /**
     * One Adam step (L2 weight decay added to the gradient, bias-corrected step size, as DJL's Adam) on a
     * batch of rows.
     *
     * @param idx feature rows of the batch
     * @param hard hard targets {@code (b, classes)}, {@code hardW} their weights; likewise {@code soft}
     * @return each head's loss on the batch
     */
    float[] step(int[] idx, float[] hard, float[] hardW, float[] soft, float[] softW, float temperature, float lr,
                 float weightDecay) {
        int n = idx.length;
        float norm = 0;
        for (int i = 0; i < n; i++) {
            norm += hardW[i] + softW[i];
        }
        norm = Math.max(1e-6f, norm);
        float[] losses;
        try (NDManager m = manager.newSubManager()) {
            NDArray xa = batch(m, idx);
            NDArray hd = m.create(hard, new Shape(1, n, classes));
            NDArray hw = m.create(hardW, new Shape(1, n));
            NDArray sd = m.create(soft, new Shape(1, n, classes));
            NDArray sw = m.create(softW, new Shape(1, n));
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                NDArray z = xa.matMul(w).add(b);
                NDArray hardLoss = z.logSoftmax(2).mul(hd).sum(new int[] {2}).neg().mul(hw).sum(new int[] {1});
                NDArray softLoss = z.div(temperature).logSoftmax(2).mul(sd).sum(new int[] {2}).neg().mul(sw)
                        .sum(new int[] {1}).mul(temperature * temperature);
                NDArray perHead = hardLoss.add(softLoss).div(norm);
                gc.backward(perHead.sum());
                losses = perHead.toFloatArray();
            }
            updates++;
            float corrected = lr * (float) (Math.sqrt(1 - Math.pow(BETA2, updates)) / (1 - Math.pow(BETA1, updates)));
            adam(m, w, mW, vW, corrected, weightDecay);
            adam(m, b, mB, vB, corrected, weightDecay);
        }
        return losses;
    }

    /** The rows {@code idx} of every head, {@code (heads, n, width)}, in the step's manager. */
    private NDArray batch(NDManager m, int[] idx) {
        int n = idx.length;
        if (resident != null) {
            long[] li = new long[n];
            for (int i = 0; i < n; i++) {
                li[i] = idx[i];
            }
            NDArray x = resident.get(new ai.djl.ndarray.index.NDIndex(":, {}", m.create(li)));
            x.attach(m);
            return x;
        }
        float[] x = new float[heads * n * width];
        for (int h = 0; h < heads; h++) {
            FeatureStore f = inputs.get(h);
            for (int i = 0; i < n; i++) {
                f.get(idx[i], x, (h * n + i) * width);
            }
        }
        return m.create(x, new Shape(heads, n, width));
    }

    private static void adam(NDManager m, NDArray p, NDArray mom, NDArray vel, float lr, float weightDecay) {
        // update through a detached view (same storage): libtorch refuses in-place changes of a parameter while
        // gradient recording is on, which it is by default on threads other than the engine's first; results of
        // operations on the parameters belong to their manager, so every temporary moves to the step's
        NDArray data = tmp(m, p.stopGradient());
        NDArray g = tmp(m, p.getGradient());
        NDArray grad = weightDecay > 0 ? g.add(data.mul(weightDecay)) : g.duplicate();
        mom.muli(BETA1).addi(grad.mul(1 - BETA1));
        vel.muli(BETA2).addi(grad.square().muli(1 - BETA2));
        NDArray denom = tmp(m, vel.sqrt()).addi(EPS);
        data.subi(tmp(m, mom.div(denom)).muli(lr));
        g.subi(g);
    }

    private static NDArray tmp(NDManager m, NDArray a) {
        a.attach(m);
        return a;
    }

    /** Softmax outputs of every head on {@code n} rows from {@code offset}: {@code [head][row][class]}. */
    float[][][] probabilities(int offset, int n) {
        float[][][] out = new float[heads][n][];
        int chunk = 256;
        for (int s = 0; s < n; s += chunk) {
            int c = Math.min(chunk, n - s);
            float[] x = new float[heads * c * width];
            for (int h = 0; h < heads; h++) {
                FeatureStore f = inputs.get(h);
                for (int i = 0; i < c; i++) {
                    f.get(offset + s + i, x, (h * c + i) * width);
                }
            }
            try (NDManager m = manager.newSubManager()) {
                float[] p = m.create(x, new Shape(heads, c, width)).matMul(tmp(m, w.stopGradient()))
                        .add(tmp(m, b.stopGradient())).softmax(2).toFloatArray();
                for (int h = 0; h < heads; h++) {
                    for (int i = 0; i < c; i++) {
                        int at = (h * c + i) * classes;
                        out[h][s + i] = java.util.Arrays.copyOfRange(p, at, at + classes);
                    }
                }
            }
        }
        return out;
    }

    @Override
    public void close() {
        manager.close();
    }
}
