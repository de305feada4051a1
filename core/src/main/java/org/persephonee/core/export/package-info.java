/**
 * The deployable bundle: {@code exit-config.json} ({@link org.persephonee.core.export.ExitConfig}, one typed
 * schema for the CLI and the lab), head weights, adapted BatchNorm statistics and a copy of the backbone, written to a
 * temporary folder and renamed ({@link org.persephonee.core.export.BundleWriter}); the target folder checked, locked
 * and repaired ({@link org.persephonee.core.export.BundleTarget}).
 */
package org.persephonee.core.export;
