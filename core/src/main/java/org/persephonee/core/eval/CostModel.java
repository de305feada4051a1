package org.persephonee.core.eval;

/**
 * The cost of classifying one image when it leaves at a given exit of a cascade, in milliseconds or MACs.
 * Leaving at exit j costs every stage up to j's stage plus every head of the cascade up to and including
 * j (earlier heads ran and were not confident); reaching the final exit costs all stages, every head of
 * the cascade, and the final classifier.
 *
 * @param unit what the numbers mean ("ms" or "MACs")
 * @param cumulativeStage per exit, the cost of all stages up to and including its stage
 * @param head per exit, the cost of its head
 * @param fullBackbone all stages
 * @param finalClassifier the final (personalised) classifier
 */
public record CostModel(String unit, double[] cumulativeStage, double[] head, double fullBackbone,
                        double finalClassifier) {

    /** Cost of the personalised final exit alone (no exit heads). */
    public double finalOnly() {
        return fullBackbone + finalClassifier;
    }

    /**
     * Cost of leaving at position {@code pos} of an ordered cascade, or at the final exit when
     * {@code pos == exits.length}.
     *
     * @param exits exit indices of the cascade, ordered by stage
     */
    public double leaveAt(int[] exits, int pos) {
        double heads = 0;
        for (int i = 0; i < Math.min(pos + 1, exits.length); i++) {
            heads += head[exits[i]];
        }
        if (pos >= exits.length) {
            return fullBackbone + heads + finalClassifier;
        }
        return cumulativeStage[exits[pos]] + heads;
    }
}
