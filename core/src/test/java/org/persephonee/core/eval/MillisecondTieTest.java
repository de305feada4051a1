package org.persephonee.core.eval;

import org.junit.jupiter.api.Test;
import org.persephonee.core.personalise.EvalPredictions;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The same predictions give the same operating point however the timer's noise moved the milliseconds: cascades
 * within {@link CascadeSearch#MS_TIE} of the fastest are a tie that MACs (which do not move) decide; further apart,
 * milliseconds decide.
 */
class MillisecondTieTest {
    /** Two exits, both right and sure on every photo, so either alone is a valid operating point. */
    private static EvalPredictions sure() {
        int n = 200;
        float[][] e0 = new float[n][];
        float[][] e1 = new float[n][];
        float[][] fin = new float[n][];
        int[] truth = new int[n];
        for (int i = 0; i < n; i++) {
            truth[i] = i % 2;
            float[] p = truth[i] == 0 ? new float[] {0.99f, 0.01f} : new float[] {0.01f, 0.99f};
            e0[i] = p;
            e1[i] = p.clone();
            fin[i] = p.clone();
        }
        return new EvalPredictions(List.of("s1", "s2"), List.of(e0, e1), fin, truth, 2);
    }

    /**
     * Leaving at exit 0 costs 1.40 ms and 150 MACs (a heavy head early on); at exit 1, {@code exit1Ms} and 121 MACs;
     * every block's milliseconds times {@code 1 + noise}.
     */
    private static Cascade cascade(double exit1Ms, Random noise, double amount) {
        double[] f = new double[6];
        for (int i = 0; i < f.length; i++) {
            f[i] = noise == null ? 1 : 1 + amount * (2 * noise.nextDouble() - 1);
        }
        double stage0 = 1.00 * f[0];
        double stage1 = stage0 + (exit1Ms - 0.05 - 1.00) * f[1];
        CostModel ms = new CostModel("ms", new double[] {stage0, stage1}, new double[] {0.40 * f[2], 0.05 * f[3]},
                stage1 + 8 * f[4], 0.5 * f[5]);
        CostModel macs = new CostModel("MACs", new double[] {100, 120}, new double[] {50, 1}, 1000, 5);
        return Cascade.classBalanced(sure(), ms, macs, Confidence.MAX_SOFTMAX);
    }

    @Test
    void aMillisecondNearTieIsDecidedByMacsWhateverTheNoise() {
        // exit 1 is 2 % slower by the timer than exit 0, and has fewer MACs
        OperatingPoint.Selection quiet = OperatingPoint.select(cascade(1.43, null, 0), 1.0, false, 42);
        assertArrayEquals(new int[] {1}, quiet.choice().cascade().exits(), "inside the tie, fewer MACs win");
        Random rnd = new Random(7);
        for (int k = 0; k < 20; k++) {
            Cascade noisy = cascade(1.43, rnd, 0.015);
            CascadeResult c = OperatingPoint.select(noisy, 1.0, false, 42).choice().cascade();
            assertArrayEquals(new int[] {1}, c.exits(), "timing " + k + ": " + Arrays.toString(c.exits()));
            double fastest = Math.min(noisy.evaluate(new int[] {0}, 0.0).meanMs(), noisy.evaluate(new int[] {1}, 0.0).meanMs());
            assertTrue(c.meanMs() <= fastest * (1 + CascadeSearch.MS_TIE) + 1e-12, "never more than a tie above the fastest");
        }
    }

    @Test
    void outsideTheTieMillisecondsDecide() {
        // exit 1 is 14 % slower: the faster exit wins despite its MACs
        CascadeResult c = OperatingPoint.select(cascade(1.60, null, 0), 1.0, false, 42).choice().cascade();
        assertArrayEquals(new int[] {0}, c.exits());
        assertEquals(1.40, c.meanMs(), 1e-9);
        // and by MACs, fewer MACs win whatever the milliseconds
        assertArrayEquals(new int[] {1}, OperatingPoint.select(cascade(1.60, null, 0), 1.0, true, 42).choice().cascade().exits());
    }

    @Test
    void aTieNeverMakesTheAnswerSlowerThanTheFinalExitAlone() {
        // leaving at either exit is 2 % slower by the timer than the final exit alone, with a tenth of its MACs
        // (the heads' call overhead): within the tie, but a cascade slower than the final exit is no operating point
        CostModel ms = new CostModel("ms", new double[] {10.0, 10.0}, new double[] {0.3, 0.3}, 10.0, 0.1);
        CostModel macs = new CostModel("MACs", new double[] {100, 100}, new double[] {1, 1}, 1000, 5);
        Cascade c = Cascade.classBalanced(sure(), ms, macs, Confidence.MAX_SOFTMAX);
        OperatingPoint.Selection sel = OperatingPoint.select(c, 1.0, false, 42);
        assertArrayEquals(new int[0], sel.choice().cascade().exits(), "the final exit alone");
        assertEquals(1.0, sel.choice().speedup(), 1e-12);
        // by MACs the exits are far cheaper, and chosen
        assertTrue(OperatingPoint.select(c, 1.0, true, 42).choice().cascade().exits().length > 0);
    }
}
