package org.persephonee.core.personalise;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;
import org.persephonee.core.engine.CollectingGarbage;
import org.persephonee.core.engine.Engines;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The conv and MLP exits' loss divides the logits by the temperature and scales by its square; autograd keeps those
 * scalars for the backward pass. Made with DJL's number overloads they lived in Java buffers the collector freed
 * first, and a personalisation stopped with a NaN at a step (stem exit, step 29) that a repeat of the run passed.
 * The gradient must be the same to the bit however often garbage is collected.
 */
class TeacherLossUnderCollectionTest {

    @Test
    void theGradientIsTheSameWhileGarbageIsCollected() throws Exception {
        Engines.pytorch();
        int b = 16;
        int k = 5;
        Random r = new Random(3);
        float[] z = new float[b * k];
        float[] hard = new float[b * k];
        float[] hardW = new float[b];
        float[] soft = new float[b * k];
        float[] softW = new float[b];
        for (int i = 0; i < b; i++) {
            for (int c = 0; c < k; c++) {
                z[i * k + c] = (float) r.nextGaussian() * 3;
                soft[i * k + c] = 1f / k;
            }
            if (i % 2 == 0) {
                hard[i * k + r.nextInt(k)] = 1;
                hardW[i] = 1;
            } else {
                softW[i] = 0.7f;
            }
        }
        float[] quiet = gradient(z, hard, hardW, soft, softW, b, k);
        try (CollectingGarbage gc = CollectingGarbage.start()) {
            for (int run = 0; run < 50; run++) {
                assertArrayEquals(quiet, gradient(z, hard, hardW, soft, softW, b, k), "run " + run);
            }
        }
    }

    private static float[] gradient(float[] z, float[] hard, float[] hardW, float[] soft, float[] softW, int b,
                                    int k) {
        Engine engine = Engine.getEngine("PyTorch");
        try (NDManager m = engine.newBaseManager()) {
            NDArray za = m.create(z, new Shape(b, k));
            za.setRequiresGradient(true);
            try (GradientCollector gc = engine.newGradientCollector()) {
                NDArray loss = TeacherLoss.of(m, za, hard, hardW, soft, softW, b, k, 2.5f);
                // the forward pass's temporaries are garbage now: give the collector its chance before the backward
                System.gc();
                gc.backward(loss);
            }
            return za.getGradient().toFloatArray();
        }
    }
}
