package org.persephonee.core.bench;

import org.junit.jupiter.api.Test;
import org.persephonee.core.data.ImageImporter;
import org.persephonee.core.data.LabelSpace;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.data.PersonalImage;
import org.persephonee.core.personalise.Teacher;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The bench's inputs: the 100 % regime labels every unlabelled image from the truth file; regimes are checked. */
class SampleBenchTest {
    private static final Path PERSONAS = Path.of("..", "sample-data");

    @Test
    void theHundredPercentRegimeGivesEveryUnlabelledImageItsTrueClass() throws Exception {
        PersonalDataset given = new ImageImporter(new LabelSpace(org.persephonee.core.backbone.SampleBackbones.FASHION_MNIST_CLASSES), null)
                .importFolder(PERSONAS.resolve("tilted-phone"), null, () -> false).dataset();
        assertEquals(400, given.unlabelled().size());
        PersonalDataset all = SampleBench.withTruth(given, PERSONAS, "tilted-phone");
        assertTrue(all.unlabelled().isEmpty(), "unlabelled left: " + all.unlabelled().size());
        assertEquals(given.size(), all.size());
        // the labelled and test images are untouched; the four classes of the persona and no other
        assertEquals(given.labelled().size() + 400, all.labelled().size());
        assertEquals(java.util.Set.of("Pullover", "Coat", "Shirt", "Ankle boot"), all.images().stream()
                .filter(i -> i.split() == PersonalImage.Split.TRAIN).map(PersonalImage::label)
                .map(String::valueOf).collect(java.util.stream.Collectors.toSet()));
    }

    @Test
    void aMissingTruthFileOrAnUnknownRegimeIsRefusedWithItsName() {
        PersonalDataset empty = new PersonalDataset(Path.of("."), List.of());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SampleBench.withTruth(empty, PERSONAS, "nobody"));
        assertTrue(e.getMessage().contains("nobody.csv"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SampleBench(Path.of("b"), PERSONAS, Path.of("f"),
                1, 1, 1, List.of("100%", "50%"), null, 0, Teacher.FINAL, true));
        assertTrue(e.getMessage().contains("'50%'"), e.getMessage());
    }
}
