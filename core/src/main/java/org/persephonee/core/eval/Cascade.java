package org.persephonee.core.eval;

import org.persephonee.core.personalise.EvalPredictions;

/** Evaluates early-exit cascades on stored predictions: no network needs to run. */
public final class Cascade {
    private final EvalPredictions preds;
    private final CostModel ms;
    private final CostModel macs;
    private final Confidence confidence;
    private final double[][] conf;
    private final boolean[][] correct;
    private final boolean[] finalCorrect;
    private final boolean[] counted;
    private final boolean classBalanced;
    /** Per image, what it counts for in accuracy: 0 when not scored, else 1 or 1 / (its class's scored count). */
    private final double[] weight;

    /**
     * A cascade that only decides which exit takes each image and whether it is right ({@link #rightPerImage}):
     * it knows no costs, so it cannot be evaluated or swept.
     */
    public static Cascade decisionsOnly(EvalPredictions preds, Confidence confidence) {
        return new Cascade(preds, null, null, confidence);
    }

    /**
     * Prepares a cascade evaluator.
     *
     * @param preds non-null predictions of all exits
     * @param ms costs in milliseconds
     * @param macs costs in MACs
     */
    public Cascade(EvalPredictions preds, CostModel ms, CostModel macs, Confidence confidence) {
        this(preds, ms, macs, confidence, false);
    }

    /**
     * A cascade whose accuracy gives every reference class the same weight (the mean of the per-class accuracies),
     * whatever the person's class mix: what choices are scored with ({@link Evaluation#selection}). The heads learn
     * with every labelled class weighing the same, and a choice scored by plain accuracy may give up a rare class
     * for speed (with 100 photos of one class and one of another, every photo of the rare class leaving wrong at
     * the first exit costs one point). Measured on 36 ResNet-9 and 36 MobileNetV2 runs (README design table,
     * <i>class-balanced choice</i>). Costs stay per image: the person's photos arrive in their own mix.
     */
    public static Cascade classBalanced(EvalPredictions preds, CostModel ms, CostModel macs, Confidence confidence) {
        return new Cascade(preds, ms, macs, confidence, true);
    }

    private Cascade(EvalPredictions preds, CostModel ms, CostModel macs, Confidence confidence, boolean classBalanced) {
        this.preds = preds;
        this.classBalanced = classBalanced;
        this.ms = ms;
        this.macs = macs;
        this.confidence = confidence;
        int n = preds.size();
        int e = preds.exits().size();
        conf = new double[e][n];
        correct = new boolean[e][n];
        finalCorrect = new boolean[n];
        counted = new boolean[n];
        boolean lab = preds.labelled();
        for (int i = 0; i < n; i++) {
            counted[i] = !lab || preds.truth()[i] != -1;
            int ref = preds.reference(i);
            finalCorrect[i] = org.persephonee.core.util.Vectors.argmax(preds.finalExit()[i]) == ref;
            for (int j = 0; j < e; j++) {
                float[] p = preds.exit(j)[i];
                conf[j][i] = confidence.of(p);
                correct[j][i] = org.persephonee.core.util.Vectors.argmax(p) == ref;
            }
        }
        weight = new double[n];
        java.util.Map<Integer, Integer> perClass = new java.util.HashMap<>();
        for (int i = 0; i < n; i++) {
            if (counted[i]) {
                perClass.merge(preds.reference(i), 1, Integer::sum);
            }
        }
        for (int i = 0; i < n; i++) {
            weight[i] = !counted[i] ? 0 : classBalanced ? 1.0 / perClass.get(preds.reference(i)) : 1;
        }
    }

    /** The same costs, confidence and scoring on other predictions (a subset of these, for instance). */
    public Cascade on(EvalPredictions other) {
        return new Cascade(other, ms, macs, confidence, classBalanced);
    }

    /** Whether accuracy is the mean of the per-class accuracies ({@link #classBalanced}) rather than per image. */
    public boolean isClassBalanced() { return classBalanced; }

    public EvalPredictions predictions() { return preds; }

    public CostModel ms() { return ms; }

    public CostModel macs() { return macs; }

    public Confidence confidence() { return confidence; }

    public int exitCount() { return preds.exits().size(); }

    /** The cascade without exits: every image runs the whole backbone to the personalised final exit. */
    public CascadeResult finalOnly() {
        return evaluate(new int[0], new double[0]);
    }

    /** Accuracy of the personalised final exit. */
    public double finalAccuracy() {
        return finalOnly().accuracy();
    }

    /**
     * Runs a cascade.
     *
     * @param exits exit indices ordered by stage
     * @param thresholds one per exit; an image leaves at the first exit whose confidence is >= its threshold
     */
    public CascadeResult evaluate(int[] exits, double[] thresholds) {
        if (ms == null || macs == null) {
            throw new IllegalStateException("this cascade knows no costs: it only decides which exit takes an image");
        }
        int n = preds.size();
        int[] leave = new int[exits.length + 1];
        double good = 0;
        double total = 0;
        double costMs = 0;
        double costMacs = 0;
        double[] msAt = new double[exits.length + 1];
        double[] macsAt = new double[exits.length + 1];
        for (int p = 0; p <= exits.length; p++) {
            msAt[p] = ms.leaveAt(exits, p);
            macsAt[p] = macs.leaveAt(exits, p);
        }
        for (int i = 0; i < n; i++) {
            int pos = exits.length;
            for (int p = 0; p < exits.length; p++) {
                if (conf[exits[p]][i] >= thresholds[p]) {
                    pos = p;
                    break;
                }
            }
            leave[pos]++;
            costMs += msAt[pos];
            costMacs += macsAt[pos];
            if (counted[i]) {
                total += weight[i];
                boolean ok = pos == exits.length ? finalCorrect[i] : correct[exits[pos]][i];
                if (ok) {
                    good += weight[i];
                }
            }
        }
        double[] share = new double[exits.length + 1];
        for (int p = 0; p < share.length; p++) {
            share[p] = leave[p] / (double) Math.max(1, n);
        }
        return new CascadeResult(exits.clone(), thresholds.clone(), total == 0 ? Double.NaN : good / total,
                costMs / Math.max(1, n), costMacs / Math.max(1, n), share);
    }

    /**
     * Per scored image (the labelled ones when there are labels), in order: whether the cascade classifies it right.
     * Two cascades on the same images can so be compared image by image ({@link PairedComparison}).
     */
    public boolean[] rightPerImage(int[] exits, double[] thresholds) {
        int[] by = takenBy(exits, thresholds);
        boolean[] out = new boolean[by.length];
        int k = 0;
        for (int i = 0; i < by.length; i++) {
            if (counted[i]) {
                out[k++] = by[i] < 0 ? finalCorrect[i] : correct[by[i]][i];
            }
        }
        return java.util.Arrays.copyOf(out, k);
    }

    /**
     * Per image (every one, scored or not), which exit of the predictions classifies it: the first of the cascade
     * whose confidence reaches its threshold, or -1 for the final exit.
     */
    public int[] takenBy(int[] exits, double[] thresholds) {
        int n = preds.size();
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = -1;
            for (int p = 0; p < exits.length; p++) {
                if (conf[exits[p]][i] >= thresholds[p]) {
                    out[i] = exits[p];
                    break;
                }
            }
        }
        return out;
    }

    /** The same threshold for every exit of the cascade. */
    public CascadeResult evaluate(int[] exits, double threshold) {
        double[] t = new double[exits.length];
        java.util.Arrays.fill(t, threshold);
        return evaluate(exits, t);
    }

}
