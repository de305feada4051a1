package org.persephonee.core.personalise;

import org.persephonee.core.engine.NumericGuard;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import org.persephonee.core.backbone.Backbone;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * BatchNorm running statistics of a backbone: snapshot, restore, and re-estimation on personal
 * images (AdaBN, Li et al. 2016 — forward passes with BatchNorm in training mode, weights untouched).
 */
public final class BnStats {
    private BnStats() { }

    private static boolean isStat(Parameter p) {
        return p.getType() == Parameter.Type.RUNNING_MEAN || p.getType() == Parameter.Type.RUNNING_VAR;
    }

    /** Copies every running mean and variance, keyed by parameter name. */
    public static Map<String, float[]> snapshot(Backbone bb) {
        Map<String, float[]> m = new LinkedHashMap<>();
        for (Pair<String, Parameter> p : bb.network().getParameters()) {
            if (isStat(p.getValue())) {
                m.put(p.getKey(), p.getValue().getArray().toFloatArray());
            }
        }
        return m;
    }

    /**
     * Writes statistics back.
     *
     * @throws IllegalArgumentException when a name or size does not match this backbone
     */
    public static void restore(Backbone bb, Map<String, float[]> stats) {
        int applied = 0;
        for (Pair<String, Parameter> p : bb.network().getParameters()) {
            if (isStat(p.getValue())) {
                float[] v = stats.get(p.getKey());
                if (v == null || v.length != p.getValue().getArray().size()) {
                    throw new IllegalArgumentException("BatchNorm statistics do not fit parameter " + p.getKey());
                }
                p.getValue().getArray().set(v);
                applied++;
            }
        }
        if (applied != stats.size()) {
            throw new IllegalArgumentException("BatchNorm statistics name " + (stats.size() - applied)
                    + " parameters this backbone does not have");
        }
    }

    /**
     * The running-average update rate of each backbone's BatchNorm layers, once inferred (it is fixed by the
     * layers' configuration; knowing it saves one of the two passes).
     */
    private static final Map<Backbone, Double> RATES = java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

    /** Most images used to estimate statistics (a seeded sample beyond that). */
    static final int MAX_IMAGES = 256;

    /**
     * Re-estimates running statistics on the given normalised images, exactly and in two forward passes:
     * in training mode every BatchNorm normalises with the statistics of the whole batch, so one pass over
     * all images (up to {@link #MAX_IMAGES}) sees each layer's population statistics. The running averages
     * absorb them with an update rate the engine does not expose; starting from zero, two passes give
     * {@code r1 = a*s} and {@code r2 = a*s*(2-a)}, from which the rate and then {@code s} are solved. The
     * rate is remembered per backbone, so later adaptations need one pass.
     *
     * @param images normalised CHW images, at least 2
     * @param seed picks the sample when there are more than {@link #MAX_IMAGES} images
     */
    public static void adapt(Backbone bb, List<float[]> images, long seed) {
        if (images.size() < 2) {
            throw new IllegalArgumentException("BatchNorm adaptation needs at least 2 images");
        }
        List<float[]> sample = images;
        if (images.size() > MAX_IMAGES) {
            List<float[]> copy = new java.util.ArrayList<>(images);
            java.util.Collections.shuffle(copy, new Random(seed));
            sample = copy.subList(0, MAX_IMAGES);
        }
        int n = sample.size();
        int size = bb.input().size();
        float[] x = new float[n * size];
        for (int i = 0; i < n; i++) {
            System.arraycopy(sample.get(i), 0, x, i * size, size);
        }
        Map<String, float[]> zero = new LinkedHashMap<>();
        snapshot(bb).forEach((k, v) -> zero.put(k, new float[v.length]));
        restore(bb, zero);
        Double known = RATES.get(bb);
        Map<String, float[]> r1;
        Map<String, float[]> r2 = null;
        try (NDManager m = bb.manager().newSubManager()) {
            NDArray in = m.create(x, bb.batchShape(n));
            bb.network().forward(new ParameterStore(m, false), new NDList(in), true);
            r1 = snapshot(bb);
            if (known == null) {
                bb.network().forward(new ParameterStore(m, false), new NDList(in), true);
                r2 = snapshot(bb);
            }
        }
        for (Map.Entry<String, float[]> e : r1.entrySet()) {
            NumericGuard.finite(NumericGuard.BATCH_NORM, 1, e.getValue(), e.getKey());
        }
        if (r2 != null) {
            for (Map.Entry<String, float[]> e : r2.entrySet()) {
                NumericGuard.finite(NumericGuard.BATCH_NORM, 2, e.getValue(), e.getKey());
            }
        }
        double rate = known == null ? Double.NaN : known;
        if (known == null) {
            // the update rate, from the element with the largest first-pass value (best conditioned)
            double best = 0;
            for (String k : r1.keySet()) {
                float[] a = r1.get(k);
                float[] b = r2.get(k);
                for (int i = 0; i < a.length; i++) {
                    if (Math.abs(a[i]) > best) {
                        best = Math.abs(a[i]);
                        rate = 2 - b[i] / (double) a[i];
                    }
                }
            }
            if (!(rate > 0 && rate <= 1)) {
                throw new IllegalStateException("could not infer the BatchNorm update rate (got " + rate + ")");
            }
            RATES.put(bb, rate);
        }
        Map<String, float[]> exact = new LinkedHashMap<>();
        for (Map.Entry<String, float[]> e : r1.entrySet()) {
            float[] v = e.getValue().clone();
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (v[i] / rate);
            }
            exact.put(e.getKey(), v);
        }
        restore(bb, exact);
    }

    /** Serialises statistics: count, then name, length and floats for each. */
    public static byte[] toBytes(Map<String, float[]> stats) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bos)) {
            out.writeInt(stats.size());
            for (Map.Entry<String, float[]> e : stats.entrySet()) {
                out.writeUTF(e.getKey());
                out.writeInt(e.getValue().length);
                for (float f : e.getValue()) {
                    out.writeFloat(f);
                }
            }
        }
        return bos.toByteArray();
    }

    /** Reads what {@link #toBytes} wrote. */
    public static Map<String, float[]> fromBytes(byte[] data) throws IOException {
        Map<String, float[]> m = new LinkedHashMap<>();
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
            int n = in.readInt();
            if (n < 0 || n > 100_000) {
                throw new IOException("not a BatchNorm statistics file");
            }
            for (int i = 0; i < n; i++) {
                String name = in.readUTF();
                int len = in.readInt();
                if (len < 0 || len > 10_000_000) {
                    throw new IOException("bad length " + len + " for " + name);
                }
                float[] v = new float[len];
                for (int k = 0; k < len; k++) {
                    v[k] = in.readFloat();
                }
                m.put(name, v);
            }
        } catch (java.io.EOFException e) {
            throw new IOException("truncated BatchNorm statistics", e);
        }
        return m;
    }
}
