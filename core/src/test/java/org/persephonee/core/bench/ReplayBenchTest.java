package org.persephonee.core.bench;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The replay's table: medians over the seeds, and each seed's test of the update against from scratch. */
class ReplayBenchTest {

    @Test
    void theTableGivesMediansAndEachSeedsPValue() {
        List<ReplayBench.Point> pts = List.of(
                new ReplayBench.Point("p", 1, "scratch", 2, 100, 100, 4.0, 0.70, 1.2, 0.68, 0.71, Double.NaN),
                new ReplayBench.Point("p", 1, "update", 2, 100, 20, 0.5, 0.66, 1.3, 0.69, 0.70, 0.0412),
                new ReplayBench.Point("p", 2, "scratch", 2, 100, 100, 6.0, 0.72, 1.2, 0.70, 0.73, Double.NaN),
                new ReplayBench.Point("p", 2, "update", 2, 100, 20, 1.0, 0.73, 1.3, 0.71, 0.74, 0.8));
        String md = ReplayBench.markdown(pts);
        String row = md.lines().filter(l -> l.startsWith("| p | 2 |")).findFirst().orElseThrow();
        assertEquals("| p | 2 | 100 | 5.00 / 0.75 | 15% | 71.0% / 69.5% | 69.0% / 70.0% | 20 | 0.04 / 0.80 |", row);
        assertTrue(md.contains("update vs scratch, McNemar p per seed"), md);
    }
}
