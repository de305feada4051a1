/**
 * Pretrained backbones split into stages: the declarative format ({@code backbone.json} + parameters:
 * {@link org.persephonee.core.backbone.BackboneSpec}, {@link org.persephonee.core.backbone.LayerSpec}) and TorchScript
 * stage bundles ({@link org.persephonee.core.backbone.StageBundleIO}), loaded with hash and shape checks into a
 * {@link org.persephonee.core.backbone.Backbone} of DJL blocks; stage tables (MACs, parameters) and model cards.
 * Depends on engine and util; the engine's other packages build on it.
 */
package org.persephonee.core.backbone;
