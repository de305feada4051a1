package org.persephonee.core.eval;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;
import org.persephonee.core.personalise.BnMode;
import org.persephonee.core.personalise.Fixtures;
import org.persephonee.core.personalise.LabelRegime;
import org.persephonee.core.personalise.PersonalisationConfig;
import org.persephonee.core.personalise.PersonalisationJob;
import org.persephonee.core.pipeline.PersonalisePipeline;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * Every choice (exit subset, thresholds, search, the head that sets the bar) is made on out-of-fold
 * predictions on the training images: relabelling the test images changes the reported accuracy and
 * nothing that was chosen.
 */
class SelectionIsBlindToTestLabelsTest {
    @TempDir
    Path tmp;


    @Test
    void relabellingTheTestImagesChangesTheScoreButNotTheChoice() throws Exception {
        Path persona = Fixtures.persona(tmp.resolve("p"), new int[] {0, 1, 2}, 6, 30, 20, 21, 0.3);
        PersonalisationConfig cfg = Fixtures.quick().optLabels(LabelRegime.ALL).optBnMode(BnMode.KEEP)
                .setPlacements(List.of(new ExitPlacement("stem", HeadSpec.grid(4)),
                        new ExitPlacement("block1", HeadSpec.parse("linear")),
                        new ExitPlacement("block2", HeadSpec.grid(2))))
                .build();
        // MACs as the cost: measured milliseconds differ from run to run, the choice must not
        PersonalisePipeline.Options opt = new PersonalisePipeline.Options(1.0, Confidence.MAX_SOFTMAX, true, null, 5);
        String[] classes = {"cat", "dog", "ankle_boot"};
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone());
             PersonalisePipeline.Outcome a = PersonalisePipeline.run(bb, Fixtures.load(bb, persona), cfg, opt,
                     PersonalisationJob.SILENT, () -> false)) {
            assertNotNull(a.selection().chosenOn(), "chosen on validation folds of the training images");
            org.junit.jupiter.api.Assertions.assertTrue(a.evaluation().selectionCascade().isClassBalanced(),
                    "choices weigh every class the same");
            // the adversarial relabelling: every test image the chosen bar head gets right moves to another
            // class's folder, so on the test labels that head becomes the worst one
            Path relabelled = tmp.resolve("q");
            org.persephonee.core.util.FileTrees.copy(persona, relabelled);
            int refExit = a.choice().reference().exit();
            var preds = a.result().predictions();
            float[][] refProbs = refExit < 0 ? preds.finalExit() : preds.exit(refExit);
            int moved = 0;
            for (int i = 0; i < preds.size(); i++) {
                if (org.persephonee.core.util.Vectors.argmax(refProbs[i]) == preds.truth()[i]) {
                    Path img = a.result().data().evalImages().get(i).path();
                    Path rel = persona.relativize(img);
                    String cls = rel.getName(1).toString();
                    String other = classes[(java.util.Arrays.asList(classes).indexOf(cls) + 1) % classes.length];
                    Files.move(relabelled.resolve(rel), relabelled.resolve("test").resolve(other)
                            .resolve("moved-" + rel.getFileName()));
                    moved++;
                }
            }
            assertNotEquals(0, moved);
            try (PersonalisePipeline.Outcome b = PersonalisePipeline.run(bb, Fixtures.load(bb, relabelled), cfg, opt,
                    PersonalisationJob.SILENT, () -> false)) {
                assertNotEquals(a.choice().reference().accuracy(), b.choice().reference().accuracy(),
                        "the test labels did change what the bar head scores");
                CascadeResult ca = a.choice().cascade();
                CascadeResult cb = b.choice().cascade();
                assertArrayEquals(ca.exits(), cb.exits());
                assertArrayEquals(ca.thresholds(), cb.thresholds(), 0.0);
                assertEquals(a.selection().search(), b.selection().search());
                assertEquals(refExit, b.choice().reference().exit());
                assertNotNull(a.result().refitChoice(), "the re-fit was checked on the labelled photos");
                assertEquals(a.result().refitChoice(), b.result().refitChoice());
                assertEquals(a.selection().chosenOn().cascade().accuracy(),
                        b.selection().chosenOn().cascade().accuracy(), 0.0,
                        "the validation estimate comes from the training images only");
            }
        }
    }
}
