package org.persephonee.core.personalise;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.persephonee.core.exits.ExitHead;

import java.util.Arrays;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * What heads say about cached rows, and the teacher's log-probabilities: the small conversions the run, the
 * cross-fitting and the exit trainer share. Softmax rows come out in batches of 128 inside a sub-manager each,
 * so a head's native memory for them is freed batch by batch.
 */
final class HeadOutputs {

    private HeadOutputs() { }

    /** The frozen backbone's logits as log-probabilities over the personal label space. */
    static float[] logProbs(PersonalLabelSpace space, float[] backboneLogits) {
        float[] p = new float[space.size()];
        space.restrictedSoftmax(backboneLogits, 0, 1f, p);
        return log(p);
    }

    /** Natural log of probabilities, floored at 1e-12. */
    static float[] log(float[] p) {
        float[] out = new float[p.length];
        for (int k = 0; k < p.length; k++) {
            out[k] = (float) Math.log(Math.max(p[k], 1e-12f));
        }
        return out;
    }

    /** Softmax outputs of a head on some cached rows ({@code rows}, in their order). */
    static float[][] probabilities(ExitHead head, FeatureStore fs, int[] rows, BooleanSupplier cancelled) {
        float[][] out = new float[rows.length][];
        int batch = 128;
        for (int s = 0; s < rows.length; s += batch) {
            if (cancelled.getAsBoolean()) {
                throw new CancellationException("cancelled");
            }
            int b = Math.min(batch, rows.length - s);
            float[] x = new float[b * fs.width()];
            for (int i = 0; i < b; i++) {
                fs.get(rows[s + i], x, i * fs.width());
            }
            softmax(head, x, b, fs.width(), out, s);
        }
        return out;
    }

    /** The head's softmax on {@code b} rows of {@code x}, into {@code out} from {@code at}. */
    private static void softmax(ExitHead head, float[] x, int b, int width, float[][] out, int at) {
        try (NDManager m = head.model().getNDManager().newSubManager()) {
            NDArray z = head.probePrefix() != null ? head.forwardProbe(m.create(x, new Shape(b, width)))
                    : head.forward(m.create(x, head.batchShape(b)), false);
            float[] p = z.softmax(1).toFloatArray();
            int k = head.classes();
            for (int i = 0; i < b; i++) {
                out[at + i] = Arrays.copyOfRange(p, i * k, (i + 1) * k);
            }
        }
    }

    /** Softmax outputs of a head on {@code n} cached rows from {@code offset}. */
    static float[][] probabilities(ExitHead head, FeatureStore fs, int offset, int n, BooleanSupplier cancelled) {
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
            softmax(head, x, b, fs.width(), out, s);
        }
        return out;
    }

    /** Rows {@code from} (inclusive) to {@code to} (exclusive) of a store, copied. */
    static float[][] rows(FeatureStore fs, int from, int to) {
        float[][] out = new float[to - from][fs.width()];
        for (int i = from; i < to; i++) {
            fs.get(i, out[i - from], 0);
        }
        return out;
    }
}
