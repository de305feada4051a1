package org.persephonee.core.bench;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Benches at several seeds summed up per persona and regime: the gap to the best head is taken per seed, then the
 * median, so one seed's lucky or unlucky run neither hides nor makes a gap.
 */
class SeedMediansTest {

    @Test
    void theGapIsTheMedianOfEachSeedsGapAndARowASeedCouldNotRunIsLeftOut() {
        Map<Long, Map<String, Object>> bySeed = new LinkedHashMap<>();
        bySeed.put(42L, bench(0.902, 4.4, 0.922, 0.960, 0.888, 0.70));
        bySeed.put(7L, bench(0.895, 5.9, 0.922, 0.968, 0.912, 0.72));
        bySeed.put(1L, bench(0.915, 1.6, 0.920, 0.955, 0.900, Double.NaN));
        List<SeedMedians.Row> rows = SeedMedians.of(bySeed);
        assertEquals(2, rows.size());
        SeedMedians.Row night = rows.get(0);
        assertEquals("night-owl", night.persona());
        assertEquals(List.of(42L, 7L, 1L), night.seeds());
        assertArrayEquals(new double[] {-2.0, -2.7, -0.5}, night.gapPoints(), 1e-9);
        assertEquals(-2.0, SeedMedians.median(night.gapPoints()), 1e-9);
        assertEquals(0.900, SeedMedians.median(night.reserved()), 1e-12);
        // seed 1 could not personalise tilted-phone: its medians come from the two seeds that did
        SeedMedians.Row tilted = rows.get(1);
        assertEquals(List.of(42L, 7L), tilted.seeds());
        assertEquals(0.5 * (0.7 + 0.72), SeedMedians.median(tilted.operatingPoint()), 1e-12);
        String md = SeedMedians.markdown(rows, 1.0);
        assertTrue(md.contains("| night-owl | 100% (100%) | 42, 7, 1 | 90.2% | 4.40x | 92.2% | -2.0 / -2.7 / -0.5 | -2.0 |"),
                md);
        assertTrue(md.contains("within 1 point(s) of the best single head at the median in 1 of 2 rows"), md);
    }

    private static Map<String, Object> bench(double op, double speedup, double best, double ft, double reserved,
                                             double tiltedOp) {
        List<Map<String, Object>> rows = new ArrayList<>();
        List<Map<String, Object>> ratios = new ArrayList<>();
        rows.add(SampleBench.row("night-owl", "100% (100%)", "generic backbone", 0.305, 0, 1.1, 1.0));
        rows.add(SampleBench.row("night-owl", "100% (100%)", "exit-only (PersEPhonEE)", op, 0.6, 0.25, speedup));
        rows.add(SampleBench.row("night-owl", "100% (100%)", "full fine-tuning", ft, 8.6, 1.1, 0.95));
        Map<String, Object> ratio = new LinkedHashMap<>();
        ratio.put("persona", "night-owl");
        ratio.put("labels", "100% (100%)");
        ratio.put("independent", Map.of("cascade_accuracy", reserved));
        ratio.put("best_head_accuracy", best);
        ratios.add(ratio);
        Map<String, Object> tilted = new LinkedHashMap<>();
        tilted.put("persona", "tilted-phone");
        tilted.put("labels", "0% (0%)");
        if (Double.isNaN(tiltedOp)) {
            tilted.put("failed", "no class left");
        } else {
            rows.add(SampleBench.row("tilted-phone", "0% (0%)", "exit-only (PersEPhonEE)", tiltedOp, 0.6, 0.8,
                    1.3));
            rows.add(SampleBench.row("tilted-phone", "0% (0%)", "full fine-tuning", 0.65, 8.6, 1.1, 0.95));
            tilted.put("best_head_accuracy", 0.72);
        }
        ratios.add(tilted);
        return Map.of("rows", rows, "ratios", ratios);
    }
}
