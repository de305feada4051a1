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

    /**
     * What choices are scored on. With every training image labelled, these predictions as they are. Otherwise
     * every unlabelled image joins the scoring: the head that agrees best with the late ensemble (the mean
     * probabilities of the later half of the exits and the final exit; labels where given) sets the bar, unless the
     * labelled images (held out) rate the final exit at least as high ({@link #finalHoldsTheBar}), and each unlabelled
     * image takes that head's class as its reference. A cascade is so scored against the label where there is one and
     * by agreeing with the bar head elsewhere: an unlabelled image it classifies otherwise than the bar counts as a
     * loss, which bounds the drop against the bar whoever is right. A few dozen labels cannot tell a one-point drop
     * from noise (ten labels picked an exit 15 points below the final exit), and neither can a hundred: scored on
     * night-owl's 100 labelled photos alone, the search left 5 points of the best head on its test photos at 6.8x
     * (README design table, "few-label scoring"; until session 31 labels alone scored from 100 of them on). The
     * labels may also have been chosen for review, and then they are not a sample of the person's photos.
     */
    public EvalPredictions forSelection() {
        if (!scoresUnlabelled()) {
            return this;
        }
        int[] t = truth.clone();
        for (int i = 0; i < t.length; i++) {
            if (t[i] == -1) {
                t[i] = org.persephonee.core.util.Vectors.argmax(lateEnsemble(i));
            }
        }
        // the head the ensemble's classes make best sets the bar; every unlabelled image then takes that head's
        // class, so a cascade is scored by how often it agrees with the bar itself
        EvalPredictions byEnsemble = new EvalPredictions(stages, exits, finalExit, t, classes);
        float[][] bar = finalExit;
        double barAccuracy = byEnsemble.accuracy(finalExit);
        for (float[][] e : exits) {
            double a = byEnsemble.accuracy(e);
            if (a > barAccuracy) {
                barAccuracy = a;
                bar = e;
            }
        }
        if (bar != finalExit && finalHoldsTheBar(bar)) {
            bar = finalExit;
        }
        for (int i = 0; i < t.length; i++) {
            if (truth[i] == -1) {
                t[i] = org.persephonee.core.util.Vectors.argmax(bar[i]);
            }
        }
        return new EvalPredictions(stages, exits, finalExit, t, classes);
    }

    /**
     * Whether the final exit, not the exit the late ensemble rates best, sets the bar: when there are labels and the
     * exit is not strictly better than the final exit on them (held out). Agreement with the late ensemble favours the
     * exits it taught, which copy its mistakes; the final exit learnt from the labels alone, so an exit must show it
     * is better where the truth is known. Measured on 42 runs per backbone (README design table, "bar head with few
     * labels"): the MobileNetV2 bundle's final exit was its best head and agreement never chose it; on ResNet-9 the
     * rule was level.
     */
    boolean finalHoldsTheBar(float[][] exit) {
        return labelled() && accuracy(finalExit) >= accuracy(exit);
    }

    /**
     * Whether {@link #forSelection()} scores unlabelled images too (by agreement with the bar head), rather than these
     * predictions as they are: whenever some training image is unlabelled.
     */
    public boolean scoresUnlabelled() {
        return !labelled() || scoredCount() < size();
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
