/**
 * Running an exported bundle: {@link org.persephonee.core.runtime.EarlyExitModel} loads it, refuses schema or
 * hash mismatches, and classifies an image stage by stage, leaving at the first exit whose confidence reaches its
 * threshold.
 */
package org.persephonee.core.runtime;
