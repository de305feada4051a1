/**
 * The steps the CLI, the bench and the lab share: personalise, profile latency, evaluate and choose the
 * operating point ({@link org.persephonee.core.pipeline.PersonalisePipeline}), say when a run looks broken, and the
 * {@code --json} report as records ({@link org.persephonee.core.pipeline.PersonaliseReport}).
 */
package org.persephonee.core.pipeline;
