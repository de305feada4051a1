package org.persephonee.core.personalise;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;
import org.persephonee.core.engine.Engines;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The exits' batched linear heads take their gradient from a hand-derived formula (faster than autograd's layout):
 * it must be the gradient autograd computes for the same loss, hard and soft targets, weights and temperature.
 */
class LinearHeadsGradientTest {

    @Test
    void theHandDerivedGradientIsAutogradsForHardAndSoftTargets() {
        Engines.pytorch();
        int lanes = 2;
        int heads = 3;
        int n = 6;
        int in = 9;
        int classes = 5;
        float temperature = 2.5f;
        Random r = new Random(7);
        try (NDManager m = NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch")) {
            NDArray x = m.create(gaussian(r, lanes * heads * n * in), new Shape(lanes, heads, n, in));
            NDArray w = m.create(gaussian(r, lanes * heads * classes * in), new Shape(lanes, heads, classes, in));
            NDArray b = m.create(gaussian(r, lanes * heads * classes), new Shape(lanes, heads, 1, classes));
            float[] hard = new float[lanes * n * classes];
            float[] hardW = new float[lanes * n];
            float[] soft = new float[lanes * n * classes];
            float[] softW = new float[lanes * n];
            float[] norm = new float[lanes];
            for (int l = 0; l < lanes; l++) {
                for (int i = 0; i < n; i++) {
                    int row = l * n + i;
                    if (i % 3 != 2) {
                        // a labelled photo (class-weighted), or a padded row of weight zero
                        hard[row * classes + r.nextInt(classes)] = 1;
                        hardW[row] = i == n - 1 ? 0 : 0.5f + r.nextFloat();
                    }
                    if (i % 2 == 0) {
                        // a teacher's distribution
                        float sum = 0;
                        for (int c = 0; c < classes; c++) {
                            soft[row * classes + c] = r.nextFloat();
                            sum += soft[row * classes + c];
                        }
                        for (int c = 0; c < classes; c++) {
                            soft[row * classes + c] /= sum;
                        }
                        softW[row] = 0.3f + r.nextFloat();
                    }
                    norm[l] += hardW[row] + softW[row];
                }
            }
            NDArray hd = m.create(hard, new Shape(lanes, 1, n, classes));
            NDArray hw = m.create(hardW, new Shape(lanes, 1, n));
            NDArray sd = m.create(soft, new Shape(lanes, 1, n, classes));
            NDArray sw = m.create(softW, new Shape(lanes, 1, n));
            NDArray nm = m.create(norm, new Shape(lanes, 1));

            check(x, w, b, hd, hw, sd, sw, nm, temperature, true, true);
            // a step where no row has a soft target (every photo labelled), or none a hard one, skips that part
            check(x, w, b, hd, hw, sd, sw.zerosLike(), nm, temperature, true, false);
            check(x, w, b, hd, hw.zerosLike(), sd, sw, nm, temperature, false, true);
        }
    }

    private static void check(NDArray x, NDArray w, NDArray b, NDArray hd, NDArray hw, NDArray sd,
                              NDArray sw, NDArray nm, float temperature, boolean withHard, boolean withSoft) {
        String what = (withHard ? ", hard targets" : "") + (withSoft ? ", soft targets" : "");
        NDArray[] mine = LinearHeads.lossAndGradients(x, w, b, withHard ? hd : null, withHard ? hw : null,
                withSoft ? sd : null, withSoft ? sw : null, nm, temperature);

        NDArray wa = w.duplicate();
        NDArray ba = b.duplicate();
        wa.setRequiresGradient(true);
        ba.setRequiresGradient(true);
        float[] loss;
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            NDArray z = x.matMul(wa.transpose(0, 1, 3, 2)).add(ba);
            NDArray hardLoss = z.logSoftmax(3).mul(hd).sum(new int[] {3}).neg().mul(hw).sum(new int[] {2});
            NDArray softLoss = z.div(temperature).logSoftmax(3).mul(sd).sum(new int[] {3}).neg().mul(sw)
                    .sum(new int[] {2}).mul(temperature * temperature);
            NDArray perHead = hardLoss.add(softLoss).div(nm);
            loss = perHead.toFloatArray();
            gc.backward(perHead.sum());
        }
        assertArrayEquals(loss, mine[0].toFloatArray(), 1e-5f, "losses" + what);
        assertArrayEquals(wa.getGradient().toFloatArray(), mine[1].toFloatArray(), 1e-5f, "weight gradient" + what);
        assertArrayEquals(ba.getGradient().toFloatArray(), mine[2].toFloatArray(), 1e-5f, "bias gradient" + what);
    }

    private static float[] gaussian(Random r, int size) {
        float[] a = new float[size];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }
}
