/**
 * From stored predictions to decisions: confidence measures, cascades and threshold sweeps, accuracy-latency
 * curves, latency profiles (measured or a device JSON) and the operating point chosen out of fold
 * ({@link org.persephonee.core.eval.OperatingPoint}). Pure computation on arrays once the predictions exist. Depends on
 * personalise for the predictions, and on backbone, exits, engine, util.
 */
package org.persephonee.core.eval;
