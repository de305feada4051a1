package org.persephonee.core.eval;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.TinyBackbones;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LatencyProfileTest {
    @TempDir
    Path tmp;

    @Test
    void measuresEveryStageAndHeadAtBatchOne() {
        try (Backbone bb = TinyBackbones.random("t", 1);
             ExitHead h = new ExitHead(new ExitPlacement("stem", HeadSpec.parse("conv8")), bb.stage("stem").outputShape(), 3)) {
            h.initialize();
            long[] maskBefore = org.persephonee.core.engine.CpuAffinity.current();
            LatencyProfile p = LatencyProfile.measure(bb, List.of(h), 5);
            assertEquals(List.of("stem", "block1", "block2"), List.copyOf(p.stageMs().keySet()));
            p.stageMs().values().forEach(v -> assertTrue(v > 0));
            assertTrue(p.headMs(h) > 0);
            assertTrue(p.cumulativeMs(bb, "block1") < p.backboneMs() + 1e-12);
            // the spread is reported for every block: median and interquartile range
            assertEquals(java.util.Set.of("stem", "block1", "block2", LatencyProfile.key(h), LatencyProfile.CLASSIFIER),
                    p.iqrMs().keySet());
            p.iqrMs().values().forEach(v -> assertTrue(v >= 0 && v < 50, "IQR " + v));
            assertTrue(p.source().contains("interleaved rounds"), p.source());
            // timed on one CPU where the thread may use several, and the thread's CPU mask restored afterwards
            if (org.persephonee.core.engine.CpuAffinity.allowed().size() > 1) {
                assertTrue(p.source().contains("pinned to CPU"), p.source());
            }
            assertArrayEquals(maskBefore, org.persephonee.core.engine.CpuAffinity.current());
        }
    }

    @Test
    void quantilesInterpolateBetweenSortedValues() {
        assertEquals(2.5, LatencyProfile.quantile(new double[] {4, 1, 3, 2}, 0.5), 1e-12);
        assertEquals(1.75, LatencyProfile.quantile(new double[] {4, 1, 3, 2}, 0.25), 1e-12);
        assertEquals(7.0, LatencyProfile.quantile(new double[] {7}, 0.75), 1e-12);
    }

    @Test
    void deviceProfileIsReadAndMissingHeadsAreEstimatedFromMacs() throws Exception {
        Path f = tmp.resolve("pixel.json");
        Files.writeString(f, "{\"device\": \"Pixel 4\", \"stages\": {\"stem\": 1.0, \"block1\": 2.0, \"block2\": 3.0},"
                + " \"classifier\": 0.1}");
        try (Backbone bb = TinyBackbones.random("t", 1);
             ExitHead h = new ExitHead(new ExitPlacement("block1", HeadSpec.parse("linear")), bb.stage("block1").outputShape(), 3)) {
            LatencyProfile p = LatencyProfile.load(f, bb, List.of(h));
            assertEquals("device profile: Pixel 4", p.source());
            assertEquals(6.0, p.backboneMs(), 1e-12);
            assertEquals(3.0, p.cumulativeMs(bb, "block1"), 1e-12);
            double msPerMac = 6.0 / (bb.totalMacs() - bb.classifierMacs());
            assertEquals(h.macs() * msPerMac, p.headMs(h), 1e-12);
            assertEquals(List.of("block1:linear"), p.estimated());
        }
    }

    @Test
    void badDeviceProfilesNameTheFileAndTheProblem() throws Exception {
        Path f = tmp.resolve("bad.json");
        try (Backbone bb = TinyBackbones.random("t", 1)) {
            Files.writeString(f, "{\"stages\": {\"stem\": 1.0}}");
            IOException e = assertThrows(IOException.class, () -> LatencyProfile.load(f, bb, List.of()));
            assertTrue(e.getMessage().contains("bad.json: no time for stage 'block1'"), e.getMessage());
            Files.writeString(f, "{\"stages\": {\"stem\": -1, \"block1\": 1, \"block2\": 1}}");
            e = assertThrows(IOException.class, () -> LatencyProfile.load(f, bb, List.of()));
            assertTrue(e.getMessage().contains("'stages.stem' must be a non-negative number"), e.getMessage());
            Files.writeString(f, "[1, 2");
            e = assertThrows(IOException.class, () -> LatencyProfile.load(f, bb, List.of()));
            assertTrue(e.getMessage().contains("bad.json"), e.getMessage());
        }
    }
}
