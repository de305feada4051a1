/**
 * Deployment outside Java: a bundle exported as a TorchScript / PyTorch Mobile early-exit module with its
 * {@code deploy.json}, checked against {@link org.persephonee.core.runtime.EarlyExitModel} before it is published.
 * Uses runtime (the model it compares with), export (the bundle's config), backbone, exits, data and util; nothing
 * in core depends on it.
 */
package org.persephonee.core.deploy;
