/**
 * A person's images: decoding any PNG/JPEG/BMP/GIF into a backbone's input spec, importing a persona folder
 * ({@code labelled/}, {@code unlabelled/}, {@code test/}, {@code labels.csv}) with skipped files named and never
 * fatal, class-name matching, Fashion-MNIST's IDX files and the sample persona generator. Depends on backbone (input
 * specs) and util.
 */
package org.persephonee.core.data;
