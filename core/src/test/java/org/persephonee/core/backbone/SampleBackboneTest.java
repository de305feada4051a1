package org.persephonee.core.backbone;

import org.persephonee.core.pretrain.Pretrainer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.persephonee.core.data.FashionMnist;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The committed sample backbone loads, has enough exit points, and is as accurate as its card says. */
class SampleBackboneTest {
    static final Path DIR = Path.of("..", "sample-models", "fmnist-resnet9");

    @Test
    void loadsWithNineStagesAndItsRecordedAccuracy() throws Exception {
        try (Backbone bb = BackboneIO.load(DIR)) {
            assertTrue(bb.stages().size() >= 8, "stages " + bb.stages().size());
            assertEquals(10, bb.classNames().size());
            assertEquals("Ankle boot", bb.classNames().get(9));
            double acc = ((Number) ((BackboneSource.Declarative) bb.source()).spec().training.get("testAccuracy")).doubleValue();
            assertTrue(acc >= 0.91, "recorded test accuracy " + acc);
            assertTrue(Files.size(DIR.resolve("backbone.params")) <= 5 * 1024 * 1024);
            assertTrue(Files.readString(DIR.resolve("README.md")).contains("MIT"));
        }
    }

    /** Needs Debian's dataset-fashion-mnist (installed by .ci/run); skipped where it is absent. */
    @Test
    void classifiesFashionMnistTestImages() throws Exception {
        Assumptions.assumeTrue(Files.isDirectory(FashionMnist.DEBIAN_DIR), "dataset-fashion-mnist not installed");
        FashionMnist test = FashionMnist.load(FashionMnist.DEBIAN_DIR, FashionMnist.Split.TEST);
        byte[][] first = Arrays.copyOf(test.images(), 2000);
        try (Backbone bb = BackboneIO.load(DIR)) {
            int[] pred = Pretrainer.predict(bb, first, 250);
            int ok = 0;
            for (int i = 0; i < pred.length; i++) {
                if (pred[i] == test.labels()[i]) {
                    ok++;
                }
            }
            assertTrue(ok / 2000.0 >= 0.90, "accuracy on the first 2000 test images " + ok / 2000.0);
        }
    }
}
