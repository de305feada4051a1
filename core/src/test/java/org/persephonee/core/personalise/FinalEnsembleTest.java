package org.persephonee.core.personalise;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** When the final exit is averaged with the late exits, and what the average is. */
class FinalEnsembleTest {
    private static final float[] A = {0.9f, 0.1f};
    private static final float[] B = {0.1f, 0.9f};
    private static final float[] HALF_A = {0.6f, 0.4f};

    /**
     * Four images of classes 0, 1, 0, 1; four exits. The final exit gets images 0 and 1 right and leans the wrong way
     * on 2 and 3; the later two exits get every image right; the first two say class 0 always.
     */
    private static EvalPredictions preds(int[] truth) {
        float[][] fin = {A, B, {0.45f, 0.55f}, {0.55f, 0.45f}};
        float[][] right = {A, B, A, B};
        float[][] zero = {A, A, A, A};
        return new EvalPredictions(List.of("s1", "s2", "s3", "s4"), List.of(zero, zero, right, right), fin, truth, 2);
    }

    @Test
    void usedWhenStrictlyBetterOnTheLabelsOutOfFold() {
        FinalEnsemble.Choice c = FinalEnsemble.choose(preds(new int[] {0, 1, 0, 1}), true);
        assertArrayEquals(new int[] {2, 3}, c.members());
        assertTrue(c.reason().contains("s3 and s4") && c.reason().contains("100.0% against 50.0%"), c.reason());
    }

    @Test
    void aTieOfEquallySurePredictionsKeepsTheFinalExitAlone() {
        // only images 0 and 1 labelled: the final exit gets both right at 0.9, as the average does
        FinalEnsemble.Choice c = FinalEnsemble.choose(preds(new int[] {0, 1, -1, -1}), true);
        assertFalse(c.used());
        assertTrue(c.reason().startsWith("the final exit alone"), c.reason());
    }

    /**
     * Four labelled photos of classes 0, 1, 0, 1; both candidates get three right. One of them is barely sure of its
     * right answers and sure of its wrong one; the other is sure where it is right and unsure where it is wrong.
     */
    private static final float[][] SURE_WHEN_WRONG = {{0.55f, 0.45f}, {0.45f, 0.55f}, {0.55f, 0.45f}, {0.9f, 0.1f}};
    private static final float[][] SURE_WHEN_RIGHT = {{0.95f, 0.05f}, {0.05f, 0.95f}, {0.95f, 0.05f}, {0.6f, 0.4f}};

    @Test
    void aTieGoesToWhicheverIsSurerWhereItIsRight() {
        int[] truth = {0, 1, 0, 1};
        // the final exit is sure when wrong; the late exit sure when right, and so the average (0.75 / 0.25 on all
        // four) tells right from wrong better than the final exit alone
        EvalPredictions p = new EvalPredictions(List.of("s1", "s2"), List.of(SURE_WHEN_WRONG, SURE_WHEN_RIGHT),
                SURE_WHEN_WRONG, truth, 2);
        FinalEnsemble.Choice c = FinalEnsemble.choose(p, true);
        assertArrayEquals(new int[] {1}, c.members(), c.reason());
        assertTrue(c.reason().contains("75.0% against 75.0%") && c.reason().contains("tied"), c.reason());
        // the other way round the final exit alone is the one sure where it is right: the same average loses
        EvalPredictions q = new EvalPredictions(List.of("s1", "s2"), List.of(SURE_WHEN_RIGHT, SURE_WHEN_WRONG),
                SURE_WHEN_RIGHT, truth, 2);
        FinalEnsemble.Choice d = FinalEnsemble.choose(q, true);
        assertFalse(d.used(), d.reason());
        assertTrue(d.reason().startsWith("the final exit alone") && d.reason().contains("tied"), d.reason());
    }

    @Test
    void beingLessSureOfEverythingDoesNotWinATie() {
        // sure of all four and wrong on one; the same predictions softened (p^(1/3), renormalised) have the lower
        // log-loss, being better calibrated, but tell right from wrong no better: at their best temperatures they
        // score the same
        float[][] sure = {{0.99f, 0.01f}, {0.01f, 0.99f}, {0.99f, 0.01f}, {0.99f, 0.01f}};
        float[][] softened = new float[sure.length][];
        for (int i = 0; i < softened.length; i++) {
            float a = (float) Math.cbrt(sure[i][0]);
            float b = (float) Math.cbrt(sure[i][1]);
            softened[i] = new float[] {a / (a + b), b / (a + b)};
        }
        int[] truth = {0, 1, 0, 1};
        assertTrue(logLoss(softened, truth) < logLoss(sure, truth));
        assertEquals(FinalEnsemble.calibratedLogLoss(sure, truth), FinalEnsemble.calibratedLogLoss(softened, truth),
                1e-3);
    }

    private static double logLoss(float[][] p, int[] truth) {
        double s = 0;
        for (int i = 0; i < p.length; i++) {
            s -= Math.log(p[i][truth[i]]);
        }
        return s / p.length;
    }

    @Test
    void withoutLabelsTheLateEnsembleIsUsed() {
        assertTrue(FinalEnsemble.choose(preds(new int[] {-1, -1, -1, -1}), true).used());
    }

    @Test
    void offWhenAskedOrWithoutOutOfFoldPredictions() {
        assertFalse(FinalEnsemble.choose(preds(new int[] {0, 1, 0, 1}), false).used());
        assertFalse(FinalEnsemble.choose(null, true).used());
    }

    @Test
    void theAverageIsTheMeanOfTheFinalExitAndTheMembers() {
        EvalPredictions p = preds(new int[] {0, 1, 0, 1});
        EvalPredictions e = FinalEnsemble.apply(p, new int[] {2, 3});
        // image 2: (0.45 + 0.9 + 0.9) / 3 for class 0
        assertEquals((0.45f + 0.9f + 0.9f) / 3, e.finalExit()[2][0], 1e-6);
        assertEquals(1.0, e.accuracy(e.finalExit()), 1e-12);
        assertSame(p, FinalEnsemble.apply(p, new int[0]));
        assertArrayEquals(new int[] {2, 3}, FinalEnsemble.lateHalf(4));
        assertArrayEquals(new int[] {1, 2}, FinalEnsemble.lateHalf(3));
        assertEquals(HALF_A.length, e.finalExit()[0].length);
    }
}
