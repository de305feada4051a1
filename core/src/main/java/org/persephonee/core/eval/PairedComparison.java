package org.persephonee.core.eval;

import java.util.Locale;

/**
 * Two classifiers judged on the same labelled images: their accuracies, the images only one of them gets right, and
 * how likely a split at least that uneven is when neither is better (the exact McNemar test: under no difference an
 * image one of them alone gets right is the first's or the second's with even odds). Lets a person comparing two runs
 * tell a real gain from the noise of a few hundred test images.
 *
 * @param images labelled images both classified
 * @param onlyFirst images the first gets right and the second wrong
 * @param onlySecond images the second gets right and the first wrong
 * @param firstAccuracy the first's accuracy on those images
 * @param secondAccuracy the second's accuracy on those images
 * @param pValue two-sided exact McNemar p-value (1 when they never disagree on correctness)
 */
public record PairedComparison(int images, int onlyFirst, int onlySecond, double firstAccuracy, double secondAccuracy,
                               double pValue) {

    /** Below this p-value a difference is called unlikely to be noise. */
    public static final double SIGNIFICANT = 0.05;

    /**
     * Compares per-image correctness of two classifiers on the same images (index i is the same image in both).
     *
     * @throws IllegalArgumentException when the arrays differ in length
     */
    public static PairedComparison of(boolean[] first, boolean[] second) {
        if (first.length != second.length) {
            throw new IllegalArgumentException("paired comparison needs the same images: " + first.length + " vs "
                    + second.length);
        }
        int a = 0;
        int b = 0;
        int c1 = 0;
        int c2 = 0;
        for (int i = 0; i < first.length; i++) {
            c1 += first[i] ? 1 : 0;
            c2 += second[i] ? 1 : 0;
            if (first[i] && !second[i]) {
                a++;
            } else if (second[i] && !first[i]) {
                b++;
            }
        }
        int n = first.length;
        return new PairedComparison(n, a, b, n == 0 ? Double.NaN : c1 / (double) n,
                n == 0 ? Double.NaN : c2 / (double) n, mcnemar(a, b));
    }

    /** The first's accuracy minus the second's, in points. */
    public double differencePoints() {
        return 100 * (firstAccuracy - secondAccuracy);
    }

    /** True when a split this uneven is unlikely without a real difference (p below {@value #SIGNIFICANT}). */
    public boolean significant() {
        return pValue < SIGNIFICANT;
    }

    /** Exact two-sided McNemar p-value for {@code a} and {@code b} discordant images: 2 P(X <= min) for X ~ Bin(a+b, 1/2). */
    static double mcnemar(int a, int b) {
        int n = a + b;
        if (n == 0) {
            return 1.0;
        }
        int k = Math.min(a, b);
        // sum of C(n, j) / 2^n for j <= k, in logs (2^n underflows beyond ~1000 discordant images)
        double logC = 0;
        double sum = 0;
        double log2n = n * Math.log(2);
        for (int j = 0; j <= k; j++) {
            sum += Math.exp(logC - log2n);
            logC += Math.log(n - j) - Math.log(j + 1);
        }
        return Math.min(1.0, 2 * sum);
    }

    /**
     * The 95 % Wilson score interval of an accuracy measured on {@code n} images: {lower, upper}, or {NaN, NaN} with no
     * image.
     */
    public static double[] wilson(double accuracy, int n) {
        return wilson((int) Math.round(accuracy * n), n);
    }

    /** {@link #wilson(double, int)} from the count of right images. */
    public static double[] wilson(int correct, int n) {
        if (n <= 0) {
            return new double[] {Double.NaN, Double.NaN};
        }
        double z = 1.959963984540054;
        double p = correct / (double) n;
        double z2 = z * z / n;
        double centre = (p + z2 / 2) / (1 + z2);
        double half = z * Math.sqrt(p * (1 - p) / n + z * z / (4.0 * n * n)) / (1 + z2);
        return new double[] {Math.max(0, centre - half), Math.min(1, centre + half)};
    }

    /**
     * One sentence: the two accuracies, the difference, the images behind it and whether it could be noise, e.g.
     * "70.6 % vs 70.3 % on the same 320 test images (+0.3 points: 5 right only here, 4 only there): a difference
     * this small is within noise (McNemar p = 1.00)".
     *
     * @param what the images, e.g. "test images"
     */
    public String describe(String what) {
        String verdict = significant()
                ? String.format(Locale.ROOT, "unlikely to be noise (McNemar p %s)", p())
                : String.format(Locale.ROOT, "within noise on this many images (McNemar p %s)", p());
        return String.format(Locale.ROOT, "%.1f%% vs %.1f%% on the same %d %s (%+.1f points: %d right only here, %d "
                        + "only there): %s", 100 * firstAccuracy, 100 * secondAccuracy, images, what,
                differencePoints(), onlyFirst, onlySecond, verdict);
    }

    /** The p-value as a person reads it: "= 0.180", or "< 0.001". */
    public String p() {
        return pValue < 0.001 ? "< 0.001" : String.format(Locale.ROOT, "= %.3f", pValue);
    }
}
