package org.persephonee.core.personalise;

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
     * Re-estimates running statistics on the given normalised images: resets them, then runs
     * training-mode forward passes over shuffled batches until the running averages have converged.
     *
     * @param images normalised CHW images, at least 2
     * @param seed shuffling seed
     */
    public static void adapt(Backbone bb, List<float[]> images, long seed) {
        if (images.size() < 2) {
            throw new IllegalArgumentException("BatchNorm adaptation needs at least 2 images");
        }
        for (Pair<String, Parameter> p : bb.network().getParameters()) {
            Parameter par = p.getValue();
            if (par.getType() == Parameter.Type.RUNNING_MEAN) {
                par.getArray().set(new float[(int) par.getArray().size()]);
            } else if (par.getType() == Parameter.Type.RUNNING_VAR) {
                float[] ones = new float[(int) par.getArray().size()];
                java.util.Arrays.fill(ones, 1f);
                par.getArray().set(ones);
            }
        }
        int n = images.size();
        int batch = Math.min(n, 256);
        int size = bb.input().size();
        Random rnd = new Random(seed);
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        // DJL's BatchNorm keeps 90% of the old running value per update: 64 updates leave 0.1% of the start
        int updates = 64;
        int done = 0;
        while (done < updates) {
            java.util.Collections.shuffle(java.util.Arrays.asList(order), rnd);
            for (int s = 0; s + batch <= n && done < updates; s += batch) {
                float[] x = new float[batch * size];
                for (int i = 0; i < batch; i++) {
                    System.arraycopy(images.get(order[s + i]), 0, x, i * size, size);
                }
                try (NDManager m = bb.manager().newSubManager()) {
                    NDArray in = m.create(x, bb.batchShape(batch));
                    bb.network().forward(new ParameterStore(m, false), new NDList(in), true);
                }
                done++;
            }
        }
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
