package org.persephonee.core.personalise;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.training.ParameterStore;
import org.junit.jupiter.api.Test;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.TinyBackbones;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

class BnStatsTest {
    /** The adapted statistics of the first BatchNorm equal the population statistics of its input. */
    @Test
    void adaptationGivesExactPopulationStatistics() {
        try (Backbone bb = TinyBackbones.random("bn", 4)) {
            Random r = new Random(2);
            List<float[]> images = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                float[] x = new float[144];
                for (int k = 0; k < x.length; k++) {
                    x[k] = (float) (0.7 * r.nextGaussian() - 1.5);
                }
                images.add(x);
            }
            BnStats.adapt(bb, images, 1);
            Map<String, float[]> stats = BnStats.snapshot(bb);
            String meanKey = stats.keySet().stream().filter(k -> k.contains("runningMean")).findFirst().orElseThrow();
            String varKey = stats.keySet().stream().filter(k -> k.contains("runningVar")).findFirst().orElseThrow();

            Block conv = ((SequentialBlock) bb.stages().get(0).block()).getChildren().get(0).getValue();
            float[] flat = new float[50 * 144];
            for (int i = 0; i < 50; i++) {
                System.arraycopy(images.get(i), 0, flat, i * 144, 144);
            }
            try (NDManager m = bb.manager().newSubManager()) {
                NDArray out = conv.forward(new ParameterStore(m, false), new NDList(m.create(flat, bb.batchShape(50))),
                        false).singletonOrThrow();
                float[] o = out.toFloatArray();
                int ch = (int) out.getShape().get(1);
                int plane = 12 * 12;
                float[] mean = new float[ch];
                float[] var = new float[ch];
                for (int c = 0; c < ch; c++) {
                    double sum = 0;
                    for (int i = 0; i < 50; i++) {
                        for (int k = 0; k < plane; k++) {
                            sum += o[(i * ch + c) * plane + k];
                        }
                    }
                    double mu = sum / (50.0 * plane);
                    double sq = 0;
                    for (int i = 0; i < 50; i++) {
                        for (int k = 0; k < plane; k++) {
                            double d = o[(i * ch + c) * plane + k] - mu;
                            sq += d * d;
                        }
                    }
                    mean[c] = (float) mu;
                    var[c] = (float) (sq / (50.0 * plane - 1));
                }
                assertArrayEquals(mean, stats.get(meanKey), 1e-3f);
                assertArrayEquals(var, stats.get(varKey), 2e-3f);
            }
        }
    }
}
