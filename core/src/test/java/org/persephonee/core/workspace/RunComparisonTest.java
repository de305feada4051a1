package org.persephonee.core.workspace;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Two kept runs compared image by image on the test photos they share, by their recorded operating points. */
class RunComparisonTest {

    /** Two classes, one exit; image i's exit says class 0 with confidence exitConf[i], the final exit says finalClass[i]. */
    private static RunRecord record(List<String> paths, int[] truth, float[] exitConf, int[] finalClass, double threshold) {
        RunRecord r = new RunRecord();
        r.exits.add("block1:grid");
        float[][] ex = new float[truth.length][];
        float[][] fin = new float[truth.length][];
        for (int i = 0; i < truth.length; i++) {
            ex[i] = new float[] {exitConf[i], 1 - exitConf[i]};
            fin[i] = finalClass[i] == 0 ? new float[] {0.9f, 0.1f} : new float[] {0.1f, 0.9f};
        }
        r.exitProbabilities.add(ex);
        r.finalProbabilities = fin;
        r.truth = truth;
        r.classes = 2;
        r.evalImages.addAll(paths);
        r.opExits = new int[] {0};
        r.opThresholds = new double[] {threshold};
        return r;
    }

    @Test
    void theOperatingPointDecidesEachImageAndOnlySharedLabelledImagesCount() {
        // a: exit takes images 0 and 1 (class 0), the final exit the rest
        RunRecord a = record(List.of("p0", "p1", "p2", "p3", "u"), new int[] {0, 1, 1, 0, -1},
                new float[] {0.95f, 0.92f, 0.6f, 0.6f, 0.99f}, new int[] {1, 1, 1, 1, 0}, 0.9);
        Map<String, Boolean> ca = a.operatingPointCorrect();
        assertEquals(Map.of("p0", true, "p1", false, "p2", true, "p3", false), ca, "the unlabelled photo is left out");

        // b: exit off (threshold above 1): the final exit alone; it also saw a photo a never did
        RunRecord b = record(List.of("p0", "p1", "p2", "p3", "q"), new int[] {0, 1, 1, 0, 1},
                new float[] {0.95f, 0.92f, 0.6f, 0.6f, 0.5f}, new int[] {0, 1, 1, 0, 1}, 1.01);
        RunComparison c = RunComparison.of(a, b);
        assertNull(c.problem());
        assertEquals(4, c.paired().images(), "p0-p3: the photos both runs scored");
        assertEquals(0, c.paired().onlyFirst());
        assertEquals(2, c.paired().onlySecond());
        assertEquals(-50.0, c.paired().differencePoints(), 1e-9);
        assertTrue(c.describe(3, 1).startsWith("Run 3 against run 1: 50.0% vs 100.0% on the same 4 test images"),
                c.describe(3, 1));
        assertTrue(c.describe(3, 1).contains("within noise"), "two images say little: " + c.describe(3, 1));
    }

    @Test
    void anOlderRecordWithoutItsOperatingPointSaysSo() {
        RunRecord a = record(List.of("p0"), new int[] {0}, new float[] {0.95f}, new int[] {0}, 0.9);
        RunRecord old = record(List.of("p0"), new int[] {0}, new float[] {0.95f}, new int[] {0}, 0.9);
        old.opExits = null;
        old.opThresholds = null;
        RunComparison c = RunComparison.of(a, old);
        assertNull(c.paired());
        assertTrue(c.describe(2, 1).contains("cannot be compared image by image"), c.describe(2, 1));
    }
}
