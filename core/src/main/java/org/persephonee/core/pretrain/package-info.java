/**
 * Training a backbone from scratch on Fashion-MNIST (the sample ResNet-9: about an hour on two cores),
 * seeded, with its model card's figures. Depends on backbone, data, engine, util; nothing depends on it but the CLI.
 */
package org.persephonee.core.pretrain;
