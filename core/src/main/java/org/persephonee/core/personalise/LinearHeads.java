package org.persephonee.core.personalise;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.persephonee.core.engine.Tensors;

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
 *
 * <p>{@code lanes} copies of the heads can train side by side (the cross-fitting's folds): each lane has its own
 * weights, batch, targets and learning rate, and a step of all lanes is one product too. A lane's batch is padded
 * to the step's largest with rows of weight zero, and a lane whose learning rate is zero does not move, so a lane
 * learns exactly what it would alone.
 */
final class LinearHeads implements AutoCloseable {
    private static final float BETA1 = 0.9f;
    private static final float BETA2 = 0.999f;
    private static final float EPS = 1e-8f;

    private final NDManager manager;
    private final List<FeatureStore> inputs;
    private final int lanes;
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
    /** Rows gathered natively ({@link Resident}), its own or shared; null when batches are copied from the heap. */
    private final NDArray resident;
    /** How many first rows {@link #resident} holds; a batch with a later row is copied from the heap. */
    private final int residentRows;

    /**
     * Creates heads with Gaussian initial weights (std sqrt(2 / inputs), He initialisation) and zero biases.
     *
     * @param inputs one feature store per head (rows = images)
     * @param seeds one seed per head
     */
    LinearHeads(List<FeatureStore> inputs, int classes, long[] seeds) {
        this(inputs, classes, seeds, 1);
    }

    /**
     * Creates {@code lanes} copies of the heads, every lane starting from the same draw, gathering batches from its
     * own native copy of the rows ({@link #residentRows}).
     *
     * @param inputs one feature store per head (rows = images), shared by the lanes
     * @param seeds one seed per head
     */
    LinearHeads(List<FeatureStore> inputs, int classes, long[] seeds, int lanes) {
        this(inputs, classes, seeds, lanes, null);
    }

    /**
     * As {@link #LinearHeads(List, int, long[], int)}, gathering batches from {@code shared} when it holds these
     * inputs: rows the caller keeps (and closes) for every training on them, so that the folds' threads and a run's
     * successive trainings do not each copy the rows into native memory.
     */
    LinearHeads(List<FeatureStore> inputs, int classes, long[] seeds, int lanes, Resident shared) {
        this.inputs = List.copyOf(inputs);
        this.lanes = lanes;
        this.heads = inputs.size();
        this.classes = classes;
        int max = 1;
        for (FeatureStore f : inputs) {
            max = Math.max(max, f.width());
        }
        this.width = max;
        float[] init = new float[lanes * heads * width * classes];
        for (int h = 0; h < heads; h++) {
            Random r = new Random(seeds[h]);
            int d = inputs.get(h).width();
            double std = Math.sqrt(2.0 / d);
            // stored as (classes, in) per head, as a DJL linear layer keeps them: the batched product multiplies by
            // its transpose, which MKL runs 2-3.5x faster than by an (in, classes) matrix with a handful of columns
            for (int k = 0; k < classes; k++) {
                for (int i = 0; i < d; i++) {
                    init[(h * classes + k) * width + i] = (float) (r.nextGaussian() * std);
                }
            }
        }
        int laneSize = heads * width * classes;
        for (int l = 1; l < lanes; l++) {
            System.arraycopy(init, 0, init, l * laneSize, laneSize);
        }
        org.persephonee.core.engine.Engines.pytorch();
        manager = NDManager.newBaseManager(Device.cpu(), "PyTorch");
        w = manager.create(init, new Shape(lanes, heads, classes, width));
        b = manager.zeros(new Shape(lanes, heads, 1, classes));
        mW = manager.zeros(w.getShape());
        vW = manager.zeros(w.getShape());
        mB = manager.zeros(b.getShape());
        vB = manager.zeros(b.getShape());
        Resident held = shared != null && shared.inputs().equals(this.inputs) ? shared
                : residentRows(this.inputs, Integer.MAX_VALUE, manager);
        resident = held == null ? null : held.rows();
        residentRows = held == null ? 0 : held.count();
    }

    /** Largest cache (bytes) kept in native memory for the batch gather; larger or spilled caches are read per step. */
    static final long RESIDENT_LIMIT = 256L << 20;

    /**
     * The first {@code count} cached rows of some heads' inputs in one native {@code (heads, count, widest)} tensor,
     * zero-padded, owned by the manager that made it.
     */
    record Resident(List<FeatureStore> inputs, int count, NDArray rows) { }

    /**
     * Every head's first {@code limit} cached rows (all of them when it is larger) in one native tensor, so that a
     * step gathers its batch with one index operation instead of copying it from the Java heap (a 2 MiB array per
     * step on the sample backbones, plus the copy into native memory); {@code null} when the rows are spilled to
     * disk, differ in count, or exceed {@link #RESIDENT_LIMIT}. One copy into native memory.
     */
    static Resident residentRows(List<FeatureStore> inputs, int limit, NDManager manager) {
        int rows = inputs.get(0).rows();
        int width = 1;
        for (FeatureStore f : inputs) {
            if (f.spilled() || f.rows() != rows) {
                return null;
            }
            width = Math.max(width, f.width());
        }
        int count = Math.min(rows, limit);
        int heads = inputs.size();
        if (4L * heads * count * width > RESIDENT_LIMIT) {
            return null;
        }
        float[] all = new float[heads * count * width];
        for (int h = 0; h < heads; h++) {
            FeatureStore f = inputs.get(h);
            for (int r = 0; r < count; r++) {
                f.get(r, all, (h * count + r) * width);
            }
        }
        return new Resident(List.copyOf(inputs), count, manager.create(all, new Shape(heads, count, width)));
    }

    /** Whether the cached rows live in native memory (see {@link #residentRows}). */
    boolean resident() { return resident != null; }

    int size() { return heads; }

    int lanes() { return lanes; }

    /** Replaces one head's weights ({@code classes x in}, row-major, as a DJL linear layer keeps them) and bias. */
    void set(int h, float[] weight, float[] bias) {
        set(0, h, weight, bias);
    }

    /** Replaces the weights and bias of head {@code h} in lane {@code lane}. */
    void set(int lane, int h, float[] weight, float[] bias) {
        int d = inputs.get(h).width();
        if (weight.length != classes * d || bias.length != classes) {
            throw new IllegalArgumentException("weights for head " + h + " do not fit " + classes + "x" + d);
        }
        float[] all = w.toFloatArray();
        int base = (lane * heads + h) * classes;
        for (int k = 0; k < classes; k++) {
            System.arraycopy(weight, k * d, all, (base + k) * width, d);
        }
        float[] bs = b.toFloatArray();
        System.arraycopy(bias, 0, bs, (lane * heads + h) * classes, classes);
        w.set(all);
        b.set(bs);
    }

    /** One head's weights ({@code classes x in}, row-major) and bias. */
    float[][] get(int h) {
        return get(0, h, w.toFloatArray(), b.toFloatArray());
    }

    /** Every head's weights and bias, from one copy of the parameters. */
    float[][][] getAll() {
        return getAll(0);
    }

    /** Every head's weights and bias in lane {@code lane}. */
    float[][][] getAll(int lane) {
        float[] all = w.toFloatArray();
        float[] bs = b.toFloatArray();
        float[][][] out = new float[heads][][];
        for (int h = 0; h < heads; h++) {
            out[h] = get(lane, h, all, bs);
        }
        return out;
    }

    private float[][] get(int lane, int h, float[] all, float[] bs) {
        int d = inputs.get(h).width();
        int base = (lane * heads + h) * classes;
        float[] weight = new float[classes * d];
        for (int k = 0; k < classes; k++) {
            System.arraycopy(all, (base + k) * width, weight, k * d, d);
        }
        float[] bias = new float[classes];
        System.arraycopy(bs, (lane * heads + h) * classes, bias, 0, classes);
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
        return step(new int[][] {idx}, new float[][] {hard}, new float[][] {hardW}, new float[][] {soft},
                new float[][] {softW}, temperature, new float[] {lr}, weightDecay)[0];
    }

    /**
     * One Adam step of every lane, each on its own batch, targets and learning rate; a lane with learning rate 0
     * (or no rows) keeps its weights.
     *
     * @return each lane's heads' losses on their batch (0 for a lane without rows)
     */
    float[][] step(int[][] idx, float[][] hard, float[][] hardW, float[][] soft, float[][] softW, float temperature,
                   float[] lr, float weightDecay) {
        int n = 1;
        for (int[] i : idx) {
            n = Math.max(n, i.length);
        }
        // every lane's batch padded to the largest with row 0 at weight zero
        int[] rows = new int[lanes * n];
        float[] hd = new float[lanes * n * classes];
        float[] hw = new float[lanes * n];
        float[] sd = new float[lanes * n * classes];
        float[] sw = new float[lanes * n];
        float[] norm = new float[lanes];
        boolean anyHard = false;
        boolean anySoft = false;
        for (int l = 0; l < lanes; l++) {
            int c = idx[l].length;
            System.arraycopy(idx[l], 0, rows, l * n, c);
            System.arraycopy(hard[l], 0, hd, l * n * classes, c * classes);
            System.arraycopy(hardW[l], 0, hw, l * n, c);
            System.arraycopy(soft[l], 0, sd, l * n * classes, c * classes);
            System.arraycopy(softW[l], 0, sw, l * n, c);
            float sum = 0;
            for (int i = 0; i < c; i++) {
                sum += hardW[l][i] + softW[l][i];
                anyHard |= hardW[l][i] != 0;
                anySoft |= softW[l][i] != 0;
            }
            norm[l] = Math.max(1e-6f, sum);
        }
        float[] losses;
        try (NDManager m = manager.newSubManager()) {
            NDArray xa = batch(m, rows, n);
            // a kind of target no row of the step has adds exactly nothing: its operations are skipped
            NDArray hdA = anyHard ? m.create(hd, new Shape(lanes, 1, n, classes)) : null;
            NDArray hwA = anyHard ? m.create(hw, new Shape(lanes, 1, n)) : null;
            NDArray sdA = anySoft ? m.create(sd, new Shape(lanes, 1, n, classes)) : null;
            NDArray swA = anySoft ? m.create(sw, new Shape(lanes, 1, n)) : null;
            NDArray normA = m.create(norm, new Shape(lanes, 1));
            NDArray[] lg = lossAndGradients(xa, tmp(m, w.stopGradient()), tmp(m, b.stopGradient()), hdA, hwA, sdA,
                    swA, normA, temperature);
            losses = lg[0].toFloatArray();
            updates++;
            float corrected = (float) (Math.sqrt(1 - Math.pow(BETA2, updates)) / (1 - Math.pow(BETA1, updates)));
            float[] steps = new float[lanes];
            for (int l = 0; l < lanes; l++) {
                steps[l] = lr[l] * corrected;
            }
            NDArray stepA = m.create(steps, new Shape(lanes, 1, 1, 1));
            adam(m, w, lg[1], mW, vW, stepA, weightDecay);
            adam(m, b, lg[2], mB, vB, stepA, weightDecay);
        }
        float[][] out = new float[lanes][heads];
        for (int l = 0; l < lanes; l++) {
            System.arraycopy(losses, l * heads, out[l], 0, heads);
        }
        return out;
    }

    /** The {@code rows} ({@code n} per lane) of every head, {@code (lanes, heads, n, width)}, in the step's manager. */
    private NDArray batch(NDManager m, int[] rows, int n) {
        boolean held = resident != null;
        for (int i = 0; held && i < rows.length; i++) {
            held = rows[i] < residentRows;
        }
        if (held) {
            long[] li = new long[rows.length];
            for (int i = 0; i < rows.length; i++) {
                li[i] = rows[i];
            }
            NDArray x = resident.get(new ai.djl.ndarray.index.NDIndex(":, {}", m.create(li)));
            x.attach(m);
            if (lanes == 1) {
                return x.reshape(1, heads, n, width);
            }
            NDArray t = x.reshape(heads, lanes, n, width).transpose(1, 0, 2, 3);
            t.attach(m);
            return t;
        }
        float[] x = new float[lanes * heads * n * width];
        for (int l = 0; l < lanes; l++) {
            for (int h = 0; h < heads; h++) {
                FeatureStore f = inputs.get(h);
                for (int i = 0; i < n; i++) {
                    f.get(rows[l * n + i], x, ((l * heads + h) * n + i) * width);
                }
            }
        }
        return m.create(x, new Shape(lanes, heads, n, width));
    }

    /**
     * Every head's loss on its batch ({@code (lanes, heads)}: the class-weighted cross-entropy with the hard targets
     * plus {@code T^2} times that with the soft ones at temperature {@code T}, over the lane's total target weight)
     * and the gradients of their sum with respect to the weights {@code (lanes, heads, classes, in)} and biases
     * {@code (lanes, heads, 1, classes)}, derived by hand: {@code z = x W^T + b}, {@code dz = (w_hard (softmax(z)
     * sum(hard) - hard) + T w_soft (softmax(z / T) sum(soft) - soft)) / norm}, {@code dW = dz^T x}. Autograd computed
     * the weight gradient as {@code x^T dz}, a product with a handful of columns that MKL runs 10x slower
     * ({@code LinearHeadsGradientTest} holds the two equal).
     *
     * @param x the batch {@code (lanes, heads, n, in)}
     * @param hard hard targets {@code (lanes, 1, n, classes)}, {@code hardW} their weights {@code (lanes, 1, n)};
     *     likewise {@code soft}; null when no row has that kind of target; {@code norm} each lane's total target
     *     weight {@code (lanes, 1)}
     * @return {loss, weight gradient, bias gradient}, in {@code x}'s manager
     */
    static NDArray[] lossAndGradients(NDArray x, NDArray w, NDArray b, NDArray hard, NDArray hardW, NDArray soft,
                                      NDArray softW, NDArray norm, float temperature) {
        NDArray z = x.matMul(w.transpose(0, 1, 3, 2)).add(b);
        NDArray loss = null;
        NDArray dz = null;
        if (hard != null) {
            NDArray logP = z.logSoftmax(3);
            loss = logP.mul(hard).sum(new int[] {3}).neg().mul(hardW).sum(new int[] {2});
            dz = logP.exp().mul(hard.sum(new int[] {3}, true)).sub(hard).mul(hardW.expandDims(3));
        }
        if (soft != null) {
            NDArray logQ = Tensors.div(z, temperature).logSoftmax(3);
            NDArray softLoss = Tensors.mul(logQ.mul(soft).sum(new int[] {3}).neg().mul(softW).sum(new int[] {2}),
                    temperature * temperature);
            NDArray dSoft = Tensors.mul(logQ.exp().mul(soft.sum(new int[] {3}, true)).sub(soft)
                    .mul(softW.expandDims(3)), temperature);
            loss = loss == null ? softLoss : loss.add(softLoss);
            dz = dz == null ? dSoft : dz.add(dSoft);
        }
        if (loss == null) {
            // no row has a target: zero loss and gradient, as the weighted sums gave (weight decay still applies)
            loss = z.sum(new int[] {2, 3}).zerosLike();
            dz = z.zerosLike();
        }
        loss = loss.div(norm);
        dz = dz.div(norm.expandDims(2).expandDims(3));
        NDArray dw = dz.transpose(0, 1, 3, 2).matMul(x);
        NDArray db = dz.sum(new int[] {2}, true);
        return new NDArray[] {loss, dw, db};
    }

    private static void adam(NDManager m, NDArray p, NDArray g, NDArray mom, NDArray vel, NDArray lr,
                             float weightDecay) {
        // update through a detached view (same storage); results of operations on the parameters belong to their
        // manager, so every temporary moves to the step's
        NDArray data = tmp(m, p.stopGradient());
        NDArray grad = weightDecay > 0 ? g.add(Tensors.mul(data, weightDecay)) : g;
        Tensors.muli(mom, BETA1).addi(Tensors.mul(grad, 1 - BETA1));
        Tensors.muli(vel, BETA2).addi(Tensors.muli(grad.square(), 1 - BETA2));
        NDArray denom = Tensors.addi(tmp(m, vel.sqrt()), EPS);
        data.subi(tmp(m, mom.div(denom)).muli(lr));
    }

    private static NDArray tmp(NDManager m, NDArray a) {
        a.attach(m);
        return a;
    }

    /** Softmax outputs of the first lane's heads on {@code n} rows from {@code offset}: {@code [head][row][class]}. */
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
                NDArray w0 = tmp(m, tmp(m, w.stopGradient()).get(0));
                NDArray b0 = tmp(m, tmp(m, b.stopGradient()).get(0));
                float[] p = m.create(x, new Shape(heads, c, width)).matMul(w0.transpose(0, 2, 1)).add(b0).softmax(2)
                        .toFloatArray();
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
