package org.persephonee.views;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The "Compare with an earlier run" list names a run's label regime as a person reads it ("labels 0.600" before). */
class RunListLabelsTest {
    @Test
    void aShareOfTheLabelledPhotosReadsAsAPercentage() {
        assertEquals("60 %", HistoryController.regime("0.6"));
        assertEquals("10 %", HistoryController.regime("0.1"));
        assertEquals("12.5 %", HistoryController.regime("0.125"));
        assertEquals("0.1 %", HistoryController.regime("0.001"));
        assertEquals("all", HistoryController.regime("all"));
        assertEquals("none", HistoryController.regime("none"));
        assertEquals("?", HistoryController.regime(null));
    }
}
