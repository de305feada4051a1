package org.persephonee.core.personalise;

import java.util.List;

/**
 * The classes one person's exits predict: the classes in their labels and, for unlabelled data, the
 * teacher's confident predictions. Classes unknown to the backbone appear only through labels.
 *
 * @param names class names in output order
 * @param backboneIndex for each class, its index among the backbone's classes, or -1 for a new class
 */
public record PersonalLabelSpace(List<String> names, int[] backboneIndex) {
    public PersonalLabelSpace {
        names = List.copyOf(names);
        backboneIndex = backboneIndex.clone();
        if (names.size() != backboneIndex.length) {
            throw new IllegalArgumentException("names and backbone indices differ in length");
        }
    }

    public int size() { return names.size(); }

    public int indexOf(String name) { return names.indexOf(name); }

    /** True when any class has no teacher (a new class). */
    public boolean hasNewClasses() {
        for (int b : backboneIndex) {
            if (b < 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * Softmax of the teacher's logits over this label space (new classes get probability 0).
     *
     * @param logits backbone logits for one image
     * @param temperature softmax temperature
     * @param out destination of {@link #size()} probabilities
     */
    public void restrictedSoftmax(float[] logits, int offset, float temperature, float[] out) {
        double max = Double.NEGATIVE_INFINITY;
        for (int b : backboneIndex) {
            if (b >= 0) {
                max = Math.max(max, logits[offset + b] / temperature);
            }
        }
        double sum = 0;
        for (int k = 0; k < backboneIndex.length; k++) {
            int b = backboneIndex[k];
            double e = b >= 0 ? Math.exp(logits[offset + b] / temperature - max) : 0;
            out[k] = (float) e;
            sum += e;
        }
        for (int k = 0; k < out.length; k++) {
            out[k] = sum > 0 ? (float) (out[k] / sum) : 0f;
        }
    }
}
