package org.persephonee.core.personalise;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The feature cache on the real sample backbone: every row written, pooled rows equal to the head's own pooling. */
class FeatureCacheTest {
    private static final Path SAMPLE = Path.of("../sample-models/fmnist-resnet9");

    private static List<float[]> images(Backbone bb, int n) {
        return images(bb, n, 3);
    }

    /** {@code n} seeded Gaussian images of the backbone's input size. */
    static List<float[]> images(Backbone bb, int n, long seed) {
        Random r = new Random(seed);
        List<float[]> out = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            float[] x = new float[bb.input().size()];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) r.nextGaussian();
            }
            out.add(x);
        }
        return out;
    }

    @Test
    void aTrainingMarkInsideABatchStillCachesEveryImageOnce() throws Exception {
        try (Backbone bb = BackboneIO.load(SAMPLE)) {
            List<float[]> imgs = images(bb, 150);
            List<FeatureCache.Request> req = List.of(FeatureCache.Request.raw("block3"));
            // batch 64 and the mark at 100: batches 0-63, 64-99, then 100-163 (cut at 150)
            try (FeatureCache marked = FeatureCache.build(bb, imgs, req, 1L << 30, null, 64, 100, (f, e) -> { }, () -> false);
                 FeatureCache plain = FeatureCache.build(bb, imgs, req, 1L << 30, null, 64, 0, (f, e) -> { }, () -> false)) {
                assertTrue(marked.markSeconds() > 0, "the training images' share of the time is recorded");
                float[] a = new float[marked.stage("block3").width()];
                float[] b = new float[a.length];
                for (int i = 0; i < imgs.size(); i++) {
                    marked.stage("block3").get(i, a, 0);
                    plain.stage("block3").get(i, b, 0);
                    assertArrayEquals(b, a, "row " + i);
                    assertTrue(java.util.stream.IntStream.range(0, a.length).anyMatch(j -> a[j] != 0), "row " + i + " written");
                }
            }
        }
    }

    @Test
    void batchesOnTwoThreadsCacheWhatOneThreadCachesAndReportProgressInOrder() throws Throwable {
        try (Backbone bb = BackboneIO.load(SAMPLE)) {
            List<float[]> imgs = images(bb, 150);
            List<FeatureCache.Request> req = List.of(FeatureCache.Request.raw("block3"),
                    ExitTrainer.request(bb, new ExitPlacement("block5", HeadSpec.grid(4))));
            List<Double> seen = java.util.Collections.synchronizedList(new ArrayList<>());
            onTwoEngineThreads(() -> {
                try (FeatureCache two = FeatureCache.build(bb, imgs, req, 1L << 30, null, 32, 100,
                        (f, e) -> seen.add(f), () -> false)) {
                    assertEquals(2, org.persephonee.core.engine.Engines.setThreads(1), "the run's threads come back");
                    try (FeatureCache one = FeatureCache.build(bb, imgs, req, 1L << 30, null, 32, 100, (f, e) -> { },
                            () -> false)) {
                        for (FeatureCache.Request r : req) {
                            assertSameRows(one.get(r), two.get(r), r.stage());
                        }
                        assertSameRows(one.logits(), two.logits(), "logits");
                    }
                }
            });
            // 150 images in batches of 32, cut at the mark: 32 32 32 4 | 32 18
            assertEquals(6, seen.size());
            for (int i = 1; i < seen.size(); i++) {
                assertTrue(seen.get(i) > seen.get(i - 1), "progress " + seen);
            }
            assertEquals(1.0, seen.get(seen.size() - 1), 1e-9);
        }
    }

    private static void assertSameRows(FeatureStore a, FeatureStore b, String what) {
        float[] x = new float[a.width()];
        float[] y = new float[x.length];
        for (int i = 0; i < a.rows(); i++) {
            a.get(i, x, 0);
            b.get(i, y, 0);
            assertArrayEquals(x, y, what + " row " + i);
        }
    }

    /** Runs {@code body} with the engine on two threads, as a run on an idle 2-core machine has it. */
    private static void onTwoEngineThreads(org.junit.jupiter.api.function.Executable body) throws Throwable {
        int before = org.persephonee.core.engine.Engines.setThreads(2);
        try {
            body.execute();
        } finally {
            org.persephonee.core.engine.Engines.setThreads(before);
        }
    }

    @Test
    void aCancelDuringABatchOnAnotherThreadStopsThePass() throws Throwable {
        try (Backbone bb = BackboneIO.load(SAMPLE)) {
            List<float[]> imgs = images(bb, 200);
            java.util.concurrent.atomic.AtomicInteger batches = new java.util.concurrent.atomic.AtomicInteger();
            onTwoEngineThreads(() -> {
                org.junit.jupiter.api.Assertions.assertThrows(java.util.concurrent.CancellationException.class,
                        () -> FeatureCache.build(bb, imgs, List.of(FeatureCache.Request.raw("block3")), 1L << 30,
                                null, 16, 200, (f, e) -> batches.incrementAndGet(), () -> batches.get() >= 2));
                assertTrue(batches.get() < 13, "stopped after " + batches.get() + " of 13 batches");
                assertEquals(2, org.persephonee.core.engine.Engines.setThreads(2), "the run's threads come back");
            });
        }
    }

    @Test
    void pooledRowsGiveTheSameLogitsAsTheHeadOnTheStageOutput() throws Exception {
        try (Backbone bb = BackboneIO.load(SAMPLE)) {
            List<float[]> imgs = images(bb, 20);
            ExitPlacement p = new ExitPlacement("block1", HeadSpec.grid(4));
            long[] shape = bb.stage("block1").outputShape();
            try (ExitHead head = new ExitHead(p, shape, 3)) {
                head.initialize();
                FeatureCache.Request pooled = new FeatureCache.Request("block1", head.probePrefix());
                try (FeatureCache c = FeatureCache.build(bb, imgs, List.of(pooled, FeatureCache.Request.raw("block1")),
                        1L << 30, null, 8, 0, (f, e) -> { }, () -> false);
                     NDManager m = NDManager.newBaseManager("PyTorch")) {
                    FeatureStore rows = c.get(pooled);
                    assertEquals(16 * 4 * 4, rows.width(), "16 channels pooled to 4x4 cells");
                    assertEquals(head.probeWidth(), rows.width());
                    FeatureStore raw = c.stage("block1");
                    float[] r = new float[rows.width()];
                    float[] x = new float[raw.width()];
                    for (int i = 0; i < imgs.size(); i++) {
                        rows.get(i, r, 0);
                        raw.get(i, x, 0);
                        float[] viaProbe = head.forwardProbe(m.create(r, new Shape(1, r.length))).toFloatArray();
                        float[] viaHead = head.forward(m.create(x, head.batchShape(1)), false).toFloatArray();
                        assertArrayEquals(viaHead, viaProbe, 1e-4f, "image " + i);
                    }
                }
            }
            try (ExitHead conv = new ExitHead(new ExitPlacement("block1", HeadSpec.parse("conv")), shape, 3)) {
                assertNull(conv.probePrefix(), "a conv head has parameters before its classifier: no pooled cache");
            }
        }
    }
}
