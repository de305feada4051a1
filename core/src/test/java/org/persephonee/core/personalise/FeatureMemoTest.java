package org.persephonee.core.personalise;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The feature memo on the real sample backbone: a later build runs the backbone on new photos only and gets the
 * same rows as a build without the memo; a damaged segment is left out, not trusted; other BatchNorm statistics
 * are another space; the cap evicts.
 */
class FeatureMemoTest {
    private static final Path SAMPLE = Path.of("../sample-models/fmnist-resnet9");

    @TempDir
    Path tmp;

    private static List<float[]> images(Backbone bb, int n, long seed) {
        return FeatureCacheTest.images(bb, n, seed);
    }

    private static FeatureCache build(Backbone bb, List<float[]> imgs, List<FeatureCache.Request> req, FeatureMemo memo)
            throws Exception {
        return FeatureCache.build(bb, imgs, req, 1L << 30, null, 16, imgs.size(), memo, (f, e) -> { }, () -> false);
    }

    private static void assertSameRows(FeatureCache expected, FeatureCache actual, List<FeatureCache.Request> req) {
        for (FeatureCache.Request r : req) {
            float[] a = new float[expected.get(r).width()];
            float[] b = new float[a.length];
            for (int i = 0; i < expected.rows(); i++) {
                expected.get(r).get(i, a, 0);
                actual.get(r).get(i, b, 0);
                assertArrayEquals(a, b, r.stage() + " row " + i);
            }
        }
        float[] a = new float[expected.logits().width()];
        float[] b = new float[a.length];
        for (int i = 0; i < expected.rows(); i++) {
            expected.logits().get(i, a, 0);
            actual.logits().get(i, b, 0);
            assertArrayEquals(a, b, "logits row " + i);
        }
    }

    @Test
    void newPhotosAloneGoThroughTheBackboneAndEveryRowIsTheSame() throws Exception {
        try (Backbone bb = BackboneIO.load(SAMPLE);
             ExitHead head = new ExitHead(new ExitPlacement("block2", HeadSpec.grid(2)), bb.stage("block2").outputShape(), 3)) {
            head.initialize();
            List<FeatureCache.Request> req = List.of(new FeatureCache.Request("block2", head.probePrefix()),
                    FeatureCache.Request.raw("block4"));
            List<float[]> first = images(bb, 30, 1);
            List<float[]> more = new ArrayList<>(images(bb, 12, 2));
            more.addAll(3, first.subList(0, 20)); // old photos among new ones, in another order
            Path root = tmp.resolve("memo");
            try (FeatureMemo memo = FeatureMemo.open(root, bb, FeatureMemo.DEFAULT_CAP_BYTES);
                 FeatureCache c = build(bb, first, req, memo)) {
                assertEquals(30, c.computed());
            }
            // a later run (a new memo object: as after a restart) runs the backbone on the 12 new photos only
            try (FeatureMemo memo = FeatureMemo.open(root, bb, FeatureMemo.DEFAULT_CAP_BYTES);
                 FeatureCache c = build(bb, more, req, memo);
                 FeatureCache plain = build(bb, more, req, null)) {
                assertTrue(memo.notes().isEmpty(), memo.notes().toString());
                assertEquals(12, c.computed());
                assertSameRows(plain, c, req);
            }
            try (FeatureMemo memo = FeatureMemo.open(root, bb, FeatureMemo.DEFAULT_CAP_BYTES);
                 FeatureCache c = build(bb, more, req, memo)) {
                assertEquals(0, c.computed(), "every photo known now");
            }
        }
    }

    @Test
    void aDamagedSegmentIsLeftOutAndItsPhotosComputedAgain() throws Exception {
        try (Backbone bb = BackboneIO.load(SAMPLE)) {
            List<FeatureCache.Request> req = List.of(FeatureCache.Request.raw("block3"));
            List<float[]> imgs = images(bb, 10, 3);
            Path root = tmp.resolve("memo");
            try (FeatureMemo memo = FeatureMemo.open(root, bb, FeatureMemo.DEFAULT_CAP_BYTES);
                 FeatureCache c = build(bb, imgs, req, memo)) {
                assertEquals(10, c.computed());
            }
            Path seg;
            try (Stream<Path> s = Files.walk(root)) {
                seg = s.filter(p -> p.getFileName().toString().startsWith("seg-")).findFirst().orElseThrow();
            }
            byte[] all = Files.readAllBytes(seg);
            Files.write(seg, java.util.Arrays.copyOf(all, all.length - 100));
            try (FeatureMemo memo = FeatureMemo.open(root, bb, FeatureMemo.DEFAULT_CAP_BYTES);
                 FeatureCache c = build(bb, imgs, req, memo);
                 FeatureCache plain = build(bb, imgs, req, null)) {
                assertEquals(1, memo.notes().size(), memo.notes().toString());
                assertTrue(memo.notes().get(0).contains(seg.getFileName().toString()), memo.notes().get(0));
                assertEquals(10, c.computed(), "nothing read from the damaged segment");
                assertSameRows(plain, c, req);
            }
        }
    }

    @Test
    void otherBatchNormStatisticsAreAnotherSpaceAndTheCapEvictsTheOldest() throws Exception {
        try (Backbone bb = BackboneIO.load(SAMPLE)) {
            List<FeatureCache.Request> req = List.of(FeatureCache.Request.raw("block1"));
            List<float[]> imgs = images(bb, 16, 4);
            Path root = tmp.resolve("memo");
            Map<String, float[]> shipped = BnStats.snapshot(bb);
            Path firstSpace = firstSpace(bb, imgs, req, root);
            long oneSpace = FeatureMemo.bytes(root);
            BnStats.adapt(bb, imgs, 7);
            try {
                try (FeatureMemo memo = FeatureMemo.open(root, bb, oneSpace + oneSpace / 2);
                     FeatureCache c = build(bb, imgs, req, memo)) {
                    assertFalse(memo.folder().equals(firstSpace), "adapted statistics give other features");
                    assertEquals(16, c.computed());
                }
                assertFalse(Files.exists(firstSpace), "the least recently used space went to keep the cap");
                assertTrue(FeatureMemo.bytes(root) <= oneSpace + oneSpace / 2);
            } finally {
                BnStats.restore(bb, shipped);
            }
        }
    }

    /** Decoded photos kept next to the memo count against its cap and go first: decoding is cheaper than the backbone. */
    @Test
    void theCapEvictsDecodedPhotosBeforeAnyFeatures() throws Exception {
        try (Backbone bb = BackboneIO.load(SAMPLE)) {
            List<FeatureCache.Request> req = List.of(FeatureCache.Request.raw("block1"));
            Path root = tmp.resolve("memo");
            Path firstSpace = firstSpace(bb, images(bb, 16, 4), req, root);
            long oneSpace = FeatureMemo.bytes(root);
            Path decoded = root.resolve("decoded-0123456789abcdef.bin");
            Files.write(decoded, new byte[(int) oneSpace]);
            List<float[]> more = images(bb, 16, 9);
            try (FeatureMemo memo = FeatureMemo.open(root, bb, 2 * oneSpace + oneSpace / 2);
                 FeatureCache c = build(bb, more, req, memo)) {
                assertEquals(16, c.computed());
            }
            assertFalse(Files.exists(decoded), "the decoded photos went to keep the cap");
            assertTrue(Files.exists(firstSpace), "the features stayed");
        }
    }

    /** A first run's space under {@code root}, with no cap to speak of: its folder. */
    private static Path firstSpace(Backbone bb, List<float[]> imgs, List<FeatureCache.Request> req, Path root)
            throws Exception {
        try (FeatureMemo memo = FeatureMemo.open(root, bb, FeatureMemo.DEFAULT_CAP_BYTES);
             FeatureCache c = build(bb, imgs, req, memo)) {
            return memo.folder();
        }
    }
}
