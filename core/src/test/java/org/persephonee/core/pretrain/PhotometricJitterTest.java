package org.persephonee.core.pretrain;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The photometric jitter of {@code pretrain --photometric}: seeded, in range, and as strong as its recipe says. */
class PhotometricJitterTest {

    private static float[] garment() {
        float[] x = new float[28 * 28];
        for (int r = 6; r < 22; r++) {
            for (int c = 8; c < 20; c++) {
                x[r * 28 + c] = 0.9f;
            }
        }
        return x;
    }

    @Test
    void theSameSeedGivesTheSameImagesAndEveryPixelStaysBetweenBlackAndWhite() {
        float[] a = garment();
        float[] b = garment();
        float[] tmp = new float[28 * 28];
        Random ra = new Random(3);
        Random rb = new Random(3);
        for (int k = 0; k < 50; k++) {
            float[] xa = garment();
            float[] xb = garment();
            Pretrainer.jitter(xa, 0, ra, tmp);
            Pretrainer.jitter(xb, 0, rb, tmp);
            assertArrayEquals(xa, xb);
            for (float v : xa) {
                assertTrue(v >= 0f && v <= 1f, "pixel " + v);
            }
            assertFalse(Arrays.equals(xa, a), "the image changed");
        }
        assertArrayEquals(a, b);
    }

    @Test
    void contrastAndBrightnessSpanTheRecipesRangeAndSomeImagesAreBlurred() {
        float[] tmp = new float[28 * 28];
        Random rnd = new Random(11);
        float minSpread = Float.MAX_VALUE;
        float maxSpread = 0f;
        int blurred = 0;
        int n = 2000;
        for (int k = 0; k < n; k++) {
            float[] x = garment();
            Pretrainer.jitter(x, 0, rnd, tmp);
            // the garment's centre against the background's corner, both far from the edge between them
            float spread = x[14 * 28 + 14] - x[2 * 28 + 2];
            minSpread = Math.min(minSpread, spread);
            maxSpread = Math.max(maxSpread, spread);
            // a blur carries a quarter of the garment into the background column next to it; averaged down the
            // garment's height that stands out of the noise
            float halo = 0f;
            for (int r = 8; r < 20; r++) {
                halo += (x[r * 28 + 7] - x[r * 28 + 2]) / 12f;
            }
            if (halo > 0.045f) {
                blurred++;
            }
        }
        // contrast 0.4-1.2 on a 0.9 step: the step is 0.36-1.08 before noise and clamping
        assertTrue(minSpread < 0.5f, "weakest step " + minSpread);
        assertTrue(maxSpread > 0.85f, "strongest step " + maxSpread);
        assertEquals(0.3, blurred / (double) n, 0.07, "share of blurred images");
    }
}
