package org.persephonee.core.eval;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Whether two runs' difference on the same images could be noise: exact McNemar and the Wilson interval. */
class PairedComparisonTest {

    @Test
    void exactMcNemarMatchesTheBinomialByHand() {
        assertEquals(1.0, PairedComparison.mcnemar(0, 0), 1e-12, "never disagreeing is no evidence");
        assertEquals(1.0, PairedComparison.mcnemar(5, 5), 1e-12);
        assertEquals(2.0 / 1024, PairedComparison.mcnemar(10, 0), 1e-12);
        assertEquals(2.0 * (1 + 10 + 45) / 1024, PairedComparison.mcnemar(8, 2), 1e-12);
        assertEquals(PairedComparison.mcnemar(2, 8), PairedComparison.mcnemar(8, 2), 1e-15, "two-sided");
        double big = PairedComparison.mcnemar(600, 500);
        assertTrue(big > 0.001 && big < 0.01, "thousands of discordant images stay finite: " + big);
    }

    @Test
    void aOnePointGainOnThreeHundredImagesIsNoiseAndATenPointGainIsNot() {
        boolean[] before = new boolean[320];
        boolean[] after = new boolean[320];
        for (int i = 0; i < 320; i++) {
            before[i] = i % 10 < 7;
            after[i] = before[i];
        }
        // three images fixed, none broken: 70.0 % -> 70.9 %
        int fixed = 0;
        for (int i = 0; i < 320 && fixed < 3; i++) {
            if (!after[i]) {
                after[i] = true;
                fixed++;
            }
        }
        PairedComparison small = PairedComparison.of(after, before);
        assertEquals(3, small.onlyFirst());
        assertEquals(0, small.onlySecond());
        assertEquals(0.9375, small.differencePoints(), 1e-9);
        assertFalse(small.significant(), "p = " + small.pValue());
        assertTrue(small.describe("test images").contains("within noise"), small.describe("test images"));

        for (int i = 0; i < 320 && fixed < 32; i++) {
            if (!after[i]) {
                after[i] = true;
                fixed++;
            }
        }
        PairedComparison large = PairedComparison.of(after, before);
        assertTrue(large.significant(), "p = " + large.pValue());
        assertTrue(large.describe("test images").startsWith("80.0% vs 70.0% on the same 320 test images (+10.0 points"),
                large.describe("test images"));
        assertTrue(large.describe("test images").contains("unlikely to be noise (McNemar p < 0.001)"));
    }

    @Test
    void wilsonIntervalIsTheTextbookOne() {
        double[] half = PairedComparison.wilson(50, 100);
        assertEquals(0.4038, half[0], 1e-4);
        assertEquals(0.5962, half[1], 1e-4);
        double[] none = PairedComparison.wilson(0, 10);
        assertEquals(0.0, none[0], 1e-12);
        assertEquals(0.2775, none[1], 1e-4);
        assertTrue(Double.isNaN(PairedComparison.wilson(0, 0)[0]));
    }

    @Test
    void differentImageCountsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> PairedComparison.of(new boolean[3], new boolean[4]));
    }
}
