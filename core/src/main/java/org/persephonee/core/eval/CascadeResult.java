package org.persephonee.core.eval;

/**
 * A cascade evaluated on the evaluation images.
 *
 * @param exits exit indices in the cascade, ordered by stage
 * @param thresholds per cascade position
 * @param accuracy fraction correct
 * @param meanMs expected milliseconds per image
 * @param meanMacs expected MACs per image
 * @param share fraction of images leaving at each cascade position; the last entry is the final exit
 */
public record CascadeResult(int[] exits, double[] thresholds, double accuracy, double meanMs, double meanMacs,
                            double[] share) { }
