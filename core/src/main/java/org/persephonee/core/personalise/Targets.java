package org.persephonee.core.personalise;

import java.util.Arrays;

/**
 * Training targets per training image: a hard class (label or pseudo-label) and/or a soft teacher
 * distribution, with a weight. Labelled images weigh 1 on average, each labelled class the same in total
 * (how many images a person labels per class says little about how often they will photograph it, and
 * an unevenly labelled class would otherwise tilt every head); when labels exist, images taught by the teacher
 * share a total weight equal to the labelled images' (so a weak teacher cannot drown the person's own
 * labels); with no labels every teacher target weighs 1.
 */
public final class Targets {
    private final int[] hard;
    private final float[][] soft;
    private final float[] weight;
    private final int k;
    private int labelled;
    private int pseudo;
    private int distilled;
    private int pseudoCorrect;
    private int pseudoChecked;

    private Targets(int n, int k) {
        this.hard = new int[n];
        this.soft = new float[n][];
        this.weight = new float[n];
        this.k = k;
        Arrays.fill(hard, -1);
    }

    /** Targets from the person's labels only. */
    static Targets labelsOnly(PreparedData d, PersonalLabelSpace space) {
        Targets t = new Targets(d.trainSize(), space.size());
        for (int i = 0; i < d.trainSize(); i++) {
            String l = d.trainLabel.get(i);
            if (l != null) {
                t.hard[i] = space.indexOf(l);
                t.weight[i] = 1f;
                t.labelled++;
            }
        }
        int[] perClass = new int[space.size()];
        int classes = 0;
        for (int i = 0; i < d.trainSize(); i++) {
            if (t.hard[i] >= 0 && perClass[t.hard[i]]++ == 0) {
                classes++;
            }
        }
        for (int i = 0; i < d.trainSize(); i++) {
            if (t.hard[i] >= 0) {
                t.weight[i] = t.labelled / (float) (classes * perClass[t.hard[i]]);
            }
        }
        return t;
    }

    /**
     * Labels plus teacher targets for unlabelled images.
     *
     * @param teacher per training image (rows 0..n-1), the teacher's log-probabilities over the label space
     */
    static Targets build(PreparedData d, PersonalLabelSpace space, float[][] teacher, PersonalisationConfig cfg) {
        Targets t = labelsOnly(d, space);
        UnlabelledRule rule = cfg.unlabelledRule();
        if (rule == UnlabelledRule.IGNORE) {
            return t;
        }
        int taught = 0;
        for (int i = 0; i < d.trainSize(); i++) {
            if (d.trainLabel.get(i) != null) {
                continue;
            }
            float[] p = org.persephonee.core.util.Vectors.softmax(teacher[i], 1f);
            int a = org.persephonee.core.util.Vectors.argmax(p);
            boolean confident = p[a] >= cfg.pseudoLabelThreshold();
            if (confident && (rule == UnlabelledRule.PSEUDO || rule == UnlabelledRule.BOTH)) {
                t.hard[i] = a;
                t.pseudo++;
                taught++;
                String given = d.trainGivenLabel.get(i);
                if (given != null) {
                    t.pseudoChecked++;
                    if (space.names().get(a).equals(given)) {
                        t.pseudoCorrect++;
                    }
                }
            } else if (rule == UnlabelledRule.DISTILL || (rule == UnlabelledRule.BOTH && !confident)) {
                t.soft[i] = org.persephonee.core.util.Vectors.softmax(teacher[i], cfg.temperature());
                t.distilled++;
                taught++;
            }
        }
        float w = t.labelled == 0 || taught == 0 ? 1f : Math.min(1f, t.labelled / (float) taught);
        for (int i = 0; i < d.trainSize(); i++) {
            if (d.trainLabel.get(i) == null && (t.hard[i] >= 0 || t.soft[i] != null)) {
                t.weight[i] = w;
            }
        }
        return t;
    }


    /** A copy without targets on the given rows (cross-fitting: those rows are predicted, not trained on). */
    Targets without(boolean[] heldOut) {
        Targets t = new Targets(hard.length, k);
        for (int i = 0; i < hard.length; i++) {
            if (!heldOut[i]) {
                t.hard[i] = hard[i];
                t.soft[i] = soft[i];
                t.weight[i] = weight[i];
            }
        }
        t.labelled = labelled;
        t.pseudo = pseudo;
        t.distilled = distilled;
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

    /** Weight of image i's target. */
    public float weight(int i) { return weight[i]; }

    public int size() { return hard.length; }

    void fill(int[] idx, float[] hardOut, float[] hardW, float[] softOut, float[] softW) {
        for (int r = 0; r < idx.length; r++) {
            int i = idx[r];
            if (hard[i] >= 0) {
                hardOut[r * k + hard[i]] = 1f;
                hardW[r] = weight[i];
            }
            if (soft[i] != null) {
                System.arraycopy(soft[i], 0, softOut, r * k, k);
                softW[r] = weight[i];
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
