package org.persephonee.core.personalise;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.persephonee.core.engine.Tensors;

/**
 * The training loss for exits (and the full fine-tuning baseline): weighted cross-entropy on hard targets
 * (labels, pseudo-labels) plus temperature-scaled cross-entropy against the teacher's softened output
 * (Hinton et al. 2015, scaled by T squared), averaged over the weights.
 */
final class TeacherLoss {
    private TeacherLoss() { }

    static NDArray of(NDManager m, NDArray z, float[] hard, float[] hardW, float[] soft, float[] softW, int b, int k,
                      float temperature) {
        NDArray h = m.create(hard, new Shape(b, k));
        NDArray s = m.create(soft, new Shape(b, k));
        NDArray hardLoss = z.logSoftmax(1).mul(h).sum(new int[] {1}).neg().mul(m.create(hardW)).sum();
        NDArray softLoss = Tensors.mul(Tensors.div(z, temperature).logSoftmax(1).mul(s).sum(new int[] {1}).neg()
                .mul(m.create(softW)).sum(), temperature * temperature);
        float norm = 0;
        for (int i = 0; i < b; i++) {
            norm += hardW[i] + softW[i];
        }
        return Tensors.div(hardLoss.add(softLoss), Math.max(1e-6f, norm));
    }
}
