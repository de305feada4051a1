/**
 * Personalisation with a frozen backbone (the paper's method): the label regime, BatchNorm keep/adapt/auto,
 * the personal label space, one frozen pass cached ({@link org.persephonee.core.personalise.FeatureCache}), teacher
 * targets, exit training on the cache and the re-fitted final exit, cross-fitted out-of-fold predictions for
 * selection, and full fine-tuning as the baseline. {@link org.persephonee.core.personalise.PersonalisationJob} runs
 * it with a listener and a cancel check. Depends on backbone, data, exits, engine, util.
 */
package org.persephonee.core.personalise;
