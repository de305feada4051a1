package org.persephonee.core.personalise;

import java.util.List;

/**
 * Softmax outputs of every exit and of the personalised final exit on the evaluation images, with the
 * truth: the basis of all accuracy, cascade and threshold computations.
 *
 * @param stages stage of each exit, in backbone order as placed
 * @param exits per exit, {@code [image][class]} probabilities
 * @param finalExit personalised final exit probabilities
 * @param truth per image: class index in the personal label space; -2 for a labelled image whose class is
 *              outside the label space (always wrong); -1 for an unlabelled image
 * @param classes size of the personal label space
 */
public record EvalPredictions(List<String> stages, List<float[][]> exits, float[][] finalExit, int[] truth,
                              int classes) {

    public float[][] exit(int i) { return exits.get(i); }

    public int size() { return truth.length; }

    /** True when evaluation has labels; otherwise accuracy means agreement with the final exit. */
    public boolean labelled() {
        for (int t : truth) {
            if (t != -1) {
                return true;
            }
        }
        return false;
    }

    /** Fewest labelled images choices are scored on by their labels alone (a one-point budget needs ~100). */
    public static final int MIN_LABELLED_FOR_SELECTION = 100;

    /**
     * What choices are scored on. With at least {@value #MIN_LABELLED_FOR_SELECTION} labelled images, these
     * predictions as they are (labelled images only). With fewer (or none), every unlabelled image joins with
     * the late ensemble's prediction as its reference (the mean probabilities of the later half of the exits and
     * the final exit): a cascade is scored against the label where there is one and by agreeing with the
     * ensemble elsewhere. A few dozen labels cannot tell a one-point drop from noise (ten labels picked an exit
     * 15 points below the final exit). Measured on the bench's ~10 % rows (night-owl / tilted-phone, test
     * accuracy at speed-up): agreement with the final exit 82.5 % at 1.2x / 70.3 % at 1.1x; with all heads
     * 88.0 % at 4.7x / 64.1 % at 2.4x; with the late half 89.5 % at 4.8x / 66.6 % at 1.8x (5 epochs).
     */
    public EvalPredictions forSelection() {
        return forSelection(false);
    }

    /**
     * What choices are scored on when the labels may have been chosen for review ({@code labelsChosen}): then every
     * unlabelled image joins with the late ensemble's class however many labels there are, since the labelled ones
     * are not a sample of the person's photos (see {@link PersonalisationConfig#labelsChosen()}).
     */
    public EvalPredictions forSelection(boolean labelsChosen) {
        int scored = labelled() ? scoredCount() : 0;
        if ((scored >= MIN_LABELLED_FOR_SELECTION && !labelsChosen) || scored == size()) {
            return this;
        }
        int[] t = truth.clone();
        for (int i = 0; i < t.length; i++) {
            if (t[i] == -1) {
                t[i] = org.persephonee.core.util.Vectors.argmax(lateEnsemble(i));
            }
        }
        return new EvalPredictions(stages, exits, finalExit, t, classes);
    }

    /** Image i's mean probabilities over the later half of the exits and the final exit (the late ensemble). */
    public float[] lateEnsemble(int i) {
        float[] mean = new float[classes];
        List<float[][]> late = exits.subList(exits.size() / 2, exits.size());
        for (float[][] e : late) {
            for (int c = 0; c < classes; c++) {
                mean[c] += e[i][c];
            }
        }
        for (int c = 0; c < classes; c++) {
            mean[c] = (mean[c] + finalExit[i][c]) / (late.size() + 1);
        }
        return mean;
    }

    /** How many images accuracy is computed on: the labelled ones, or all of them when none is labelled. */
    public int scoredCount() {
        if (!labelled()) {
            return truth.length;
        }
        int n = 0;
        for (int t : truth) {
            if (t != -1) {
                n++;
            }
        }
        return n;
    }

    /** The reference class of image i: its label, or the final exit's prediction when unlabelled. */
    public int reference(int i) {
        return labelled() ? truth[i] : org.persephonee.core.util.Vectors.argmax(finalExit[i]);
    }

    /** Accuracy of a probability table against the references (labelled images only when labelled). */
    public double accuracy(float[][] probs) {
        boolean lab = labelled();
        int n = 0;
        int c = 0;
        for (int i = 0; i < probs.length; i++) {
            if (lab && truth[i] == -1) {
                continue;
            }
            n++;
            if (org.persephonee.core.util.Vectors.argmax(probs[i]) == (lab ? truth[i] : org.persephonee.core.util.Vectors.argmax(finalExit[i]))) {
                c++;
            }
        }
        return n == 0 ? Double.NaN : c / (double) n;
    }

    /** The same predictions restricted to some images (rows in the given order). */
    public EvalPredictions subset(int[] rows) {
        List<float[][]> ex = new java.util.ArrayList<>();
        for (float[][] e : exits) {
            float[][] sub = new float[rows.length][];
            for (int i = 0; i < rows.length; i++) {
                sub[i] = e[rows[i]];
            }
            ex.add(sub);
        }
        float[][] fin = new float[rows.length][];
        int[] t = new int[rows.length];
        for (int i = 0; i < rows.length; i++) {
            fin[i] = finalExit[rows[i]];
            t[i] = truth[rows[i]];
        }
        return new EvalPredictions(stages, ex, fin, t, classes);
    }
}
