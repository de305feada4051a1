package org.persephonee.core.personalise;

import java.util.List;
import java.util.Locale;

/**
 * The cascade's last word: the final exit alone, or the final exit averaged with the later half of the exits (the
 * late ensemble: the mean of their probabilities and the final exit's). An image that reaches the end has passed
 * those stages, so the ensemble costs only their heads, not another stage. It is used when it beats the final exit
 * on the labelled training photos out of fold (on a tie, when its log-loss at its best temperature is lower: README
 * design table, "final exit with the late exits", ties), and with no labels at all (it is then the teacher the exits
 * learnt from; the final exit alone, the paper's, has nothing that rates it higher). Measured (README design table,
 * "final exit with the late exits"): on ResNet-9 the late exits are often better heads than its final exit, on the
 * MobileNetV2 bundle rarely.
 */
public final class FinalEnsemble {
    private FinalEnsemble() { }

    /**
     * What a run decided.
     *
     * @param members exit indices averaged with the final exit (empty: the final exit alone)
     * @param reason one sentence for reports
     */
    public record Choice(int[] members, String reason) {
        public Choice {
            members = members.clone();
        }

        @Override
        public int[] members() { return members.clone(); }

        public boolean used() { return members.length > 0; }
    }

    /** The later half of {@code exits} exits (the late ensemble's exits), in stage order. */
    public static int[] lateHalf(int exits) {
        int from = exits / 2;
        int[] m = new int[exits - from];
        for (int i = 0; i < m.length; i++) {
            m[i] = from + i;
        }
        return m;
    }

    /**
     * Decides on the training photos' out-of-fold predictions.
     *
     * @param validation out-of-fold predictions (the final exit alone), or null when there are none
     * @param enabled false to keep the final exit alone (the paper's)
     */
    public static Choice choose(EvalPredictions validation, boolean enabled) {
        if (!enabled) {
            return new Choice(new int[0], "the final exit alone (asked)");
        }
        if (validation == null || validation.exits().isEmpty()) {
            return new Choice(new int[0], "the final exit alone (no out-of-fold predictions to rate an ensemble on)");
        }
        int[] members = lateHalf(validation.exits().size());
        String names = names(validation, members);
        if (!validation.labelled()) {
            return new Choice(members, "the final exit averaged with the exits at " + names
                    + " (no labels: the late ensemble taught the exits)");
        }
        EvalPredictions ens = apply(validation, members);
        double alone = validation.accuracy(validation.finalExit());
        double with = ens.accuracy(ens.finalExit());
        String figures = String.format(Locale.ROOT, "%.1f%% against %.1f%% alone on %d labelled training photos, "
                + "out of fold", 100 * with, 100 * alone, validation.scoredCount());
        if (with > alone) {
            return new Choice(members, "the final exit averaged with the exits at " + names + ": " + figures);
        }
        if (with == alone) {
            // a tie on a few dozen labels: which of the two is surer where it is right than where it is wrong decides
            // (the log-loss of the true classes after fitting each its own temperature; the raw log-loss would reward
            // the average for being less sure of everything)
            double lossWith = calibratedLogLoss(ens.finalExit(), ens.truth());
            double lossAlone = calibratedLogLoss(validation.finalExit(), validation.truth());
            String tie = String.format(Locale.ROOT,
                    "%s; tied, log-loss at the best temperature %.3f against %.3f alone", figures, lossWith, lossAlone);
            if (lossWith < lossAlone) {
                return new Choice(members, "the final exit averaged with the exits at " + names + ": " + tie);
            }
            return new Choice(new int[0], "the final exit alone: averaged with the exits at " + names + " " + tie);
        }
        return new Choice(new int[0], "the final exit alone: averaged with the exits at " + names + " " + figures);
    }

    /** Temperatures {@link #calibratedLogLoss} tries: log-spaced from 0.05 to 20. */
    private static final int TEMPERATURES = 201;

    /**
     * The mean negative log-probability of the true class over the photos labelled with a class of the label space,
     * after the probabilities are sharpened or softened by the temperature that minimises it ({@code p^(1/T)},
     * renormalised; T from 0.05 to 20): how well a head's confidence tells its right answers from its wrong ones,
     * whatever its calibration.
     */
    static double calibratedLogLoss(float[][] probs, int[] truth) {
        List<float[]> logs = new java.util.ArrayList<>();
        List<Integer> classes = new java.util.ArrayList<>();
        for (int i = 0; i < probs.length; i++) {
            if (truth[i] >= 0) {
                logs.add(HeadOutputs.log(probs[i]));
                classes.add(truth[i]);
            }
        }
        if (logs.isEmpty()) {
            return 0;
        }
        double best = Double.MAX_VALUE;
        double lo = Math.log(0.05);
        double hi = Math.log(20);
        for (int g = 0; g < TEMPERATURES; g++) {
            float t = (float) Math.exp(lo + g * (hi - lo) / (TEMPERATURES - 1));
            double sum = 0;
            for (int i = 0; i < logs.size(); i++) {
                sum -= Math.log(Math.max(org.persephonee.core.util.Vectors.softmax(logs.get(i), t)[classes.get(i)],
                        1e-12));
            }
            best = Math.min(best, sum / logs.size());
        }
        return best;
    }

    /** The same predictions with the final exit's replaced by its mean with the given exits'. */
    public static EvalPredictions apply(EvalPredictions p, int[] members) {
        if (members.length == 0) {
            return p;
        }
        float[][] fin = new float[p.size()][];
        for (int i = 0; i < p.size(); i++) {
            fin[i] = mean(p, members, i);
        }
        return new EvalPredictions(p.stages(), p.exits(), fin, p.truth(), p.classes());
    }

    /** Image i's mean probabilities over the final exit and the given exits. */
    static float[] mean(EvalPredictions p, int[] members, int i) {
        float[][] m = new float[members.length][];
        for (int k = 0; k < members.length; k++) {
            m[k] = p.exit(members[k])[i];
        }
        return average(p.finalExit()[i], m);
    }

    /**
     * The final exit's probabilities averaged with its members': the final exit's first, then each member's in stage
     * order, divided by their count plus one. Every runtime averages in this order (the Java runtime calls this; the
     * TorchScript module adds in the same order), so a deployed final exit is the one scored to the last bit.
     */
    public static float[] average(float[] fin, float[][] members) {
        float[] m = fin.clone();
        for (float[] e : members) {
            for (int c = 0; c < m.length; c++) {
                m[c] += e[c];
            }
        }
        for (int c = 0; c < m.length; c++) {
            m[c] /= members.length + 1;
        }
        return m;
    }

    private static String names(EvalPredictions p, int[] members) {
        StringBuilder b = new StringBuilder();
        for (int k = 0; k < members.length; k++) {
            b.append(k == 0 ? "" : k == members.length - 1 ? " and " : ", ").append(p.stages().get(members[k]));
        }
        return b.toString();
    }
}
