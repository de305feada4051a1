package org.persephonee.core.pipeline;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.engine.NumericGuard;
import org.persephonee.core.personalise.Fixtures;
import org.persephonee.core.personalise.PersonalisationJob;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A non-finite training step is run once more: a passing glitch finishes, one met every time still stops the run. */
class NonFiniteRetryTest {
    @TempDir
    Path tmp;

    @AfterEach
    void clear() {
        NumericGuard.injectAt(null, -1);
    }

    private PersonalisePipeline.Outcome run(Backbone bb) throws Exception {
        PersonalDataset ds = Fixtures.load(bb, Fixtures.persona(tmp.resolve("p"), new int[] {0, 1, 2}, 8, 40, 12, 7));
        return PersonalisePipeline.run(bb, ds, Fixtures.quick().optEpochs(2).build(),
                PersonalisePipeline.Options.defaults(), PersonalisationJob.SILENT, () -> false);
    }

    @Test
    void aGlitchMetOnceIsRunAgainAndTheRunFinishes() throws Exception {
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            NumericGuard.injectAt(NumericGuard.HEADS, 2, 1);
            try (PersonalisePipeline.Outcome o = run(bb)) {
                assertTrue(o.choice().cascade().accuracy() > 0.3, "the second attempt trained to the end");
            }
        }
    }

    @Test
    void aFaultMetEveryTimeStillStopsTheRunNamingTheStep() throws Exception {
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            NumericGuard.injectAt(NumericGuard.HEADS, 2);
            var e = assertThrows(NumericGuard.NonFiniteException.class, () -> run(bb));
            assertEquals(2, e.step());
            assertTrue(e.getMessage().contains("non-finite during exit heads at step 2"), e.getMessage());
        }
    }
}
