package org.persephonee.core.personalise;

import java.util.Arrays;

/**
 * Training targets per training image: a hard class (label or pseudo-label) and/or a soft teacher
 * distribution, each with a weight.
 */
public final class Targets {
    private final int[] hard;
    private final float[][] soft;
    private final int k;
    private int labelled;
    private int pseudo;
    private int distilled;
    private int pseudoCorrect;
    private int pseudoChecked;

    private Targets(int n, int k) {
        this.hard = new int[n];
        this.soft = new float[n][];
        this.k = k;
        Arrays.fill(hard, -1);
    }

    /** Builds targets from labels and the frozen teacher's logits (rows 0..n-1 are training images). */
    static Targets build(PreparedData d, PersonalLabelSpace space, float[][] teacherLogits,
                         PersonalisationConfig cfg) {
        int n = d.trainSize();
        Targets t = new Targets(n, space.size());
        float[] p = new float[space.size()];
        for (int i = 0; i < n; i++) {
            String l = d.trainLabel.get(i);
            if (l != null) {
                t.hard[i] = space.indexOf(l);
                t.labelled++;
                continue;
            }
            UnlabelledRule rule = cfg.unlabelledRule();
            if (rule == UnlabelledRule.IGNORE) {
                continue;
            }
            space.restrictedSoftmax(teacherLogits[i], 0, 1f, p);
            int a = org.persephonee.core.util.Vectors.argmax(p);
            boolean confident = p[a] >= cfg.pseudoLabelThreshold();
            if (confident && (rule == UnlabelledRule.PSEUDO || rule == UnlabelledRule.BOTH)) {
                t.hard[i] = a;
                t.pseudo++;
                String given = d.trainGivenLabel.get(i);
                if (given != null) {
                    t.pseudoChecked++;
                    if (space.names().get(a).equals(given)) {
                        t.pseudoCorrect++;
                    }
                }
            } else if (rule == UnlabelledRule.DISTILL || (rule == UnlabelledRule.BOTH && !confident)) {
                float[] s = new float[space.size()];
                space.restrictedSoftmax(teacherLogits[i], 0, cfg.temperature(), s);
                t.soft[i] = s;
                t.distilled++;
            }
        }
        return t;
    }

    /** Number of training images with any target. */
    public int used() {
        int u = 0;
        for (int i = 0; i < hard.length; i++) {
            if (hard[i] >= 0 || soft[i] != null) {
                u++;
            }
        }
        return u;
    }

    int[] usedIndices() {
        int[] out = new int[used()];
        int j = 0;
        for (int i = 0; i < hard.length; i++) {
            if (hard[i] >= 0 || soft[i] != null) {
                out[j++] = i;
            }
        }
        return out;
    }

    /** Hard class of image i, or -1. */
    public int hard(int i) { return hard[i]; }

    /** Soft target of image i, or null. */
    public float[] soft(int i) { return soft[i]; }

    public int size() { return hard.length; }

    void fill(int[] idx, float[] hardOut, float[] hardW, float[] softOut, float[] softW) {
        for (int r = 0; r < idx.length; r++) {
            int i = idx[r];
            if (hard[i] >= 0) {
                hardOut[r * k + hard[i]] = 1f;
                hardW[r] = 1f;
            }
            if (soft[i] != null) {
                System.arraycopy(soft[i], 0, softOut, r * k, k);
                softW[r] = 1f;
            }
        }
    }

    /** Images trained on their own label. */
    public int labelled() { return labelled; }

    /** Unlabelled images trained on a teacher pseudo-label. */
    public int pseudoLabelled() { return pseudo; }

    /** Unlabelled images trained by distillation. */
    public int distilled() { return distilled; }

    /** Share of pseudo-labels that match a label the regime hid, or NaN when none could be checked. */
    public double pseudoLabelAccuracy() {
        return pseudoChecked == 0 ? Double.NaN : pseudoCorrect / (double) pseudoChecked;
    }
}
