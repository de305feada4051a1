package org.persephonee.core.util;

import java.util.Random;

/** Small array helpers shared by training and evaluation code. */
public final class Vectors {
    private Vectors() { }

    /** Index of the largest value (the first one on ties). */
    /** The rows of {@code a} followed by those of {@code b} (the rows themselves are shared, not copied). */
    public static float[][] concatRows(float[][] a, float[][] b) {
        float[][] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    public static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    /** Softmax of {@code z / temperature}, computed stably. */
    public static float[] softmax(float[] z, float temperature) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : z) {
            max = Math.max(max, v / temperature);
        }
        double sum = 0;
        float[] out = new float[z.length];
        for (int i = 0; i < z.length; i++) {
            out[i] = (float) Math.exp(z[i] / temperature - max);
            sum += out[i];
        }
        for (int i = 0; i < z.length; i++) {
            out[i] /= (float) sum;
        }
        return out;
    }

    /** Fisher-Yates shuffle in place. */
    public static void shuffle(int[] a, Random r) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    /** The median, the mean of the middle two of an even count. */
    public static double median(double[] v) {
        if (v.length == 0) {
            throw new IllegalArgumentException("the median of no values");
        }
        double[] c = v.clone();
        java.util.Arrays.sort(c);
        int h = c.length / 2;
        return c.length % 2 == 1 ? c[h] : (c[h - 1] + c[h]) / 2;
    }

    /** The median, the lower one of an even count: always one of the measured values (of a timed run, say). */
    public static double lowerMedian(double[] v) {
        if (v.length == 0) {
            throw new IllegalArgumentException("the median of no values");
        }
        double[] c = v.clone();
        java.util.Arrays.sort(c);
        return c[(c.length - 1) / 2];
    }
}
