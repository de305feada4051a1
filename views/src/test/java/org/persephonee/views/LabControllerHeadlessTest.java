package org.persephonee.views;

import org.junit.jupiter.api.Test;
import org.persephonee.core.exits.HeadType;
import org.persephonee.core.personalise.LabelRegime;
import org.persephonee.core.workspace.WorkspaceState;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The lab's controller driven from a plain test thread, without the JavaFX toolkit: every task runs in place
 * ({@link LabTasks#sameThread()}), so a step's effect on the model is there when the call returns.
 */
class LabControllerHeadlessTest {
    private static final Path BACKBONE = Path.of("..", "sample-models", "fmnist-resnet9");
    private static final Path PERSONA = Path.of("..", "sample-data", "tilted-phone");

    @Test
    void aBackboneExitsAndImagesWithoutTheToolkit() {
        LabModel model = new LabModel();
        LabController c = new LabController(model, LabTasks.sameThread(), null);
        c.openBackbone(BACKBONE);
        assertNotNull(model.backbone.get(), model.status.get());
        assertEquals(9, model.backbone.get().stages().size());

        c.autoPlace();
        assertEquals(8, model.exits.size(), "a grid head after every stage but the last");
        assertTrue(c.addExit("block9", HeadType.LINEAR).isPresent(), "no such stage: refused with a reason");
        c.removeExit(model.exits.get(0));
        assertEquals(7, model.exits.size());

        c.importPaths(List.of(PERSONA));
        assertEquals(780, model.images.size(), model.status.get());
        // partly labelled data keeps the regime the user chose; data with no labels switches to none
        assertEquals(LabelRegime.ALL, model.labels.get());

        WorkspaceState s = c.snapshot();
        assertEquals(7, s.exits.size());
        assertEquals(780, s.images.size());
        assertEquals(BACKBONE.toAbsolutePath().normalize(), Path.of(s.backbone).normalize());
        assertTrue(c.cannotStart().isEmpty(), "ready to personalise: " + c.cannotStart());
        c.shutdown();
    }
}
