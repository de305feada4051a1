/**
 * Small pieces every package uses: atomic file writes (temp + rename), recursive delete, hashes, vector
 * maths (softmax, argmax, medians) and JSON problem messages. Depends on nothing of the engine; everything may use it.
 */
package org.persephonee.core.util;
