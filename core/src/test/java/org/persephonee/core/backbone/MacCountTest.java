package org.persephonee.core.backbone;

import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class MacCountTest {
    /** A stride-2 basic residual block 16 -> 32 channels on a 16x28x28 input, counted by hand. */
    @Test
    void stridedResidualBlockMatchesHandCount() {
        LayerSpec block = LayerSpec.residual(
                List.of(LayerSpec.conv(32, 3, 2, 1), LayerSpec.bn(), LayerSpec.relu(), LayerSpec.conv(32, 3, 1, 1),
                        LayerSpec.bn()),
                List.of(LayerSpec.conv(32, 1, 2, 0), LayerSpec.bn()));
        long[] in = {16, 28, 28};
        assertArrayEquals(new long[] {32, 14, 14}, block.outputShape(in));
        long conv1 = 14 * 14 * 32 * 16 * 9;   //   903,168
        long conv2 = 14 * 14 * 32 * 32 * 9;   // 1,806,336
        long proj = 14 * 14 * 32 * 16;        //   100,352
        assertEquals(conv1 + conv2 + proj, block.macs(in));
        assertEquals(2_809_856, block.macs(in));
        long params = 32 * 16 * 9 + 2 * 32 + 32 * 32 * 9 + 2 * 32 + 32 * 16 + 2 * 32;
        assertEquals(params, block.params(in));
        assertEquals(14_528, block.params(in));
    }

    @Test
    void linearAndStemCounts() {
        assertEquals(28 * 28 * 16 * 9, LayerSpec.conv(16, 3, 1, 1).macs(new long[] {1, 28, 28}));
        assertEquals(640, LayerSpec.linear(10).macs(new long[] {64}));
        assertEquals(650, LayerSpec.linear(10).params(new long[] {64}));
        assertEquals(0, LayerSpec.gap().macs(new long[] {64, 7, 7}));
    }

    /** The counted parameters equal what DJL actually allocates (excluding BatchNorm running statistics). */
    @Test
    void parameterCountMatchesTheRealNetwork() {
        try (Backbone bb = TinyBackbones.random("count", 1)) {
            long real = 0;
            for (Pair<String, Parameter> p : bb.network().getParameters()) {
                if (p.getValue().getType() != Parameter.Type.RUNNING_MEAN
                        && p.getValue().getType() != Parameter.Type.RUNNING_VAR) {
                    real += p.getValue().getArray().size();
                }
            }
            assertEquals(real, bb.totalParams());
            assertEquals(bb.stages().get(2).cumulativeMacs() + bb.classifierMacs(), bb.totalMacs());
        }
    }

    @Test
    void shapesThatDoNotFitAreRejectedWithTheStageName() {
        BackboneSpec spec = TinyBackbones.spec("bad");
        spec.stages.add(new StageSpec("toobig", List.of(LayerSpec.conv(8, 9, 1, 0))));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, spec::validate);
        assertEquals("stage 'toobig': kernel 9 with stride 1 does not fit input size 6", e.getMessage());
    }
}
