package org.persephonee.core.eval;

import org.junit.jupiter.api.Test;
import org.persephonee.core.personalise.EvalPredictions;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The operating point does not buy speed by giving up a class the person photographs rarely: choices are scored with
 * every class weighing the same ({@link Cascade#classBalanced}), so a cascade that sends every photo of a rare class
 * out wrong at an early exit is far from the bar, not a point under it.
 */
class ClassBalancedChoiceTest {
    /**
     * 600 photos of a common class and 5 of a rare one. The cheap exit is confident (0.97) and right on the common
     * class, and says "common" with 0.80 on the rare one; the final exit is right on both.
     */
    private static EvalPredictions person() {
        int common = 600;
        int rare = 5;
        int n = common + rare;
        float[][] exit = new float[n][];
        float[][] fin = new float[n][];
        int[] truth = new int[n];
        for (int i = 0; i < n; i++) {
            truth[i] = i < common ? 0 : 1;
            exit[i] = i < common ? new float[] {0.97f, 0.03f} : new float[] {0.80f, 0.20f};
            fin[i] = truth[i] == 0 ? new float[] {0.99f, 0.01f} : new float[] {0.01f, 0.99f};
        }
        return new EvalPredictions(List.of("s1"), java.util.Collections.singletonList(exit), fin, truth, 2);
    }

    private static final CostModel MS = new CostModel("ms", new double[] {1}, new double[] {0.1}, 10, 0.5);
    private static final CostModel MACS = new CostModel("MACs", new double[] {100}, new double[] {10}, 1000, 5);

    @Test
    void accuracyIsTheMeanOfTheClassesAccuracies() {
        Cascade balanced = Cascade.classBalanced(person(), MS, MACS, Confidence.MAX_SOFTMAX);
        Cascade plain = new Cascade(person(), MS, MACS, Confidence.MAX_SOFTMAX);
        // every photo leaves at the exit: the common class all right, the rare one all wrong
        assertEquals(0.5, balanced.evaluate(new int[] {0}, 0.0).accuracy(), 1e-12);
        assertEquals(600 / 605.0, plain.evaluate(new int[] {0}, 0.0).accuracy(), 1e-12);
        assertEquals(1.0, balanced.finalAccuracy(), 1e-12);
        // costs stay per photo
        assertEquals(plain.evaluate(new int[] {0}, 0.9).meanMs(), balanced.evaluate(new int[] {0}, 0.9).meanMs(), 1e-12);
        assertTrue(balanced.on(person().subset(new int[] {0, 1, 600})).isClassBalanced(), "a subset is scored the same way");
    }

    @Test
    void theRareClassIsNotGivenUpForSpeed() {
        // plain accuracy: sending every photo out at the exit loses 5 of 605 (0.8 points), inside a one-point budget
        Cascade plain = new Cascade(person(), MS, MACS, Confidence.MAX_SOFTMAX);
        CascadeResult byImage = OperatingPoint.select(plain, 1.0, false, 42).choice().cascade();
        int[] takenByImage = plain.takenBy(byImage.exits(), byImage.thresholds());
        assertEquals(0, takenByImage[600], "scored per photo, the rare class leaves (wrong) at the exit");

        Cascade balanced = Cascade.classBalanced(person(), MS, MACS, Confidence.MAX_SOFTMAX);
        OperatingPoint.Selection sel = OperatingPoint.select(balanced, 1.0, false, 42);
        CascadeResult c = sel.choice().cascade();
        int[] taken = balanced.takenBy(c.exits(), c.thresholds());
        for (int i = 600; i < 605; i++) {
            assertEquals(-1, taken[i], "photo " + i + " of the rare class goes on to the final exit");
        }
        assertEquals(1.0, plain.evaluate(c.exits(), c.thresholds()).accuracy(), 1e-12);
        // and the common class still leaves early: the speed is kept where it costs nothing
        assertTrue(sel.choice().speedup() > 5, "speed-up " + sel.choice().speedup());
        assertFalse(c.exits().length == 0);
    }
}
