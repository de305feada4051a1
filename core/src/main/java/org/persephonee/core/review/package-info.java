/**
 * Active labelling: which of a person's unlabelled photos a label would help most, ranked from a run's out-of-fold
 * predictions on the training images, with each photo's top guesses and the exit that would take it. Reads
 * {@code personalise} results and {@code data} images; the lab's Review view, the CLI's {@code review} and the
 * active-learning bench use it.
 */
package org.persephonee.core.review;
