package org.persephonee.core.personalise;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The label-free criterion of the BatchNorm phase: a teacher that is sure and diverse beats one that is only sure. */
class BatchNormPhaseTest {
    @Test
    void mutualInformationRewardsConfidentAndDiversePredictionsOnly() {
        float[][] diverse = {{9, 0, 0}, {0, 9, 0}, {0, 0, 9}, {9, 0, 0}, {0, 9, 0}, {0, 0, 9}};
        float[][] oneClass = {{9, 0, 0}, {9, 0, 0}, {9, 0, 0}, {9, 0, 0}, {9, 0, 0}, {9, 0, 0}};
        float[][] unsure = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
        double d = BatchNormPhase.mutualInformation(diverse);
        assertTrue(d > 1.0 && d <= Math.log(3) + 1e-9, "sure and spread over 3 classes: near ln 3, got " + d);
        assertEquals(0, BatchNormPhase.mutualInformation(oneClass), 1e-6, "sure of one class for every image");
        assertEquals(0, BatchNormPhase.mutualInformation(unsure), 1e-9, "no opinion");
        assertEquals(0, BatchNormPhase.mutualInformation(new float[0][]), 0);
    }
}
