package org.persephonee.core.eval;

/**
 * One threshold on an accuracy-vs-cost curve.
 *
 * @param threshold confidence threshold (above 1 means nobody leaves early)
 * @param accuracy fraction correct
 * @param ms expected milliseconds per image
 * @param macs expected MACs per image
 * @param earlyShare fraction of images that left before the final exit
 */
public record CurvePoint(double threshold, double accuracy, double ms, double macs, double earlyShare) { }
