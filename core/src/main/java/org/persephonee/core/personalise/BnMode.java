package org.persephonee.core.personalise;

/**
 * What to do with the backbone's BatchNorm statistics. The weights stay frozen either way.
 * ADAPT re-estimates the running mean and variance on the person's own images (AdaBN, Li et al. 2016);
 * AUTO adapts only when that raises the final exit's accuracy on the person's labelled training images
 * (or, with no labels, its mean confidence).
 */
public enum BnMode { KEEP, ADAPT, AUTO }
