package org.persephonee.core.eval;

/** How confident an exit is about one image, in [0, 1]; an image leaves when confidence >= threshold. */
public enum Confidence {
    /** The largest softmax probability (BranchyNet / SDN / PersEPhonEE). */
    MAX_SOFTMAX,
    /** One minus the softmax entropy divided by log(classes) (BranchyNet's entropy criterion, rescaled). */
    ENTROPY;

    /** Confidence of a probability vector. */
    public double of(float[] p) {
        if (this == MAX_SOFTMAX) {
            float m = 0;
            for (float v : p) {
                m = Math.max(m, v);
            }
            return m;
        }
        double h = 0;
        for (float v : p) {
            if (v > 0) {
                h -= v * Math.log(v);
            }
        }
        return p.length < 2 ? 1 : 1 - h / Math.log(p.length);
    }
}
