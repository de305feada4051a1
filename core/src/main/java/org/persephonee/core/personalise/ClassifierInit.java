package org.persephonee.core.personalise;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneSource;
import org.persephonee.core.backbone.LayerSpec;

import java.util.Arrays;
import java.util.List;

/**
 * Starting weights of a pooled linear head from the backbone's own classifier: a phase of
 * {@link PersonalisationJob} (the re-fitted final exit and the linear exit heads start at about the backbone's
 * pooled logits for the person's classes instead of at random).
 */
final class ClassifierInit {
    private ClassifierInit() { }

    /**
     * Starts the re-fitted final classifier from the backbone's classifier rows (known classes). A head that
     * pools to a grid sees each channel once per cell (channel-major after flattening): each row is spread
     * evenly over the cells, so the head starts at (about) the backbone's pooled logits.
     *
     * @param current the head's initial weights ({@code classes x in}): rows of new classes are kept
     * @return weights and bias, or null when the classifier is not pooling + one linear layer
     */
    static float[][] rows(Backbone backbone, PersonalLabelSpace space, float[] current) {
        if (backbone.source() instanceof BackboneSource.Declarative d) {
            List<LayerSpec> cls = d.spec().classifier;
            if (cls.size() != 3 || cls.get(0).type() != LayerSpec.Type.GAP || cls.get(2).type() != LayerSpec.Type.LINEAR) {
                return null;
            }
        }
        NDArray w = null;
        NDArray bias = null;
        int weights = 0;
        int biases = 0;
        for (Pair<String, Parameter> p : backbone.classifier().getParameters()) {
            if (p.getValue().getType() == Parameter.Type.WEIGHT) {
                w = p.getValue().getArray();
                weights++;
            } else if (p.getValue().getType() == Parameter.Type.BIAS) {
                bias = p.getValue().getArray();
                biases++;
            }
        }
        // a TorchScript classifier qualifies when it is pooling + one linear layer on the last stage's channels
        long channels = backbone.stages().get(backbone.stages().size() - 1).outputShape()[0];
        if (w == null || bias == null || weights != 1 || biases != 1 || w.getShape().dimension() != 2
                || w.getShape().get(1) != channels || w.getShape().get(0) != backbone.classNames().size()) {
            return null;
        }
        float[] wf = w.toFloatArray();
        float[] bf = bias.toFloatArray();
        int c = (int) w.getShape().get(1);
        if (current == null || current.length % (space.size() * c) != 0) {
            return null;
        }
        int cells = current.length / (space.size() * c);
        int in = c * cells;
        float[] nw = new float[space.size() * in];
        float[] nb = new float[space.size()];
        for (int k = 0; k < space.size(); k++) {
            int b = space.backboneIndex()[k];
            if (b >= 0) {
                for (int ch = 0; ch < c; ch++) {
                    Arrays.fill(nw, k * in + ch * cells, k * in + (ch + 1) * cells, wf[b * c + ch] / cells);
                }
                nb[k] = bf[b];
            }
        }
        // new classes keep small random rows so they can learn
        for (int k = 0; k < space.size(); k++) {
            if (space.backboneIndex()[k] < 0) {
                System.arraycopy(current, k * in, nw, k * in, in);
            }
        }
        return new float[][] {nw, nb};
    }
}
