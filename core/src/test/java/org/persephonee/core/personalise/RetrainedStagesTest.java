package org.persephonee.core.personalise;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.data.PersonalImage;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;
import org.persephonee.core.export.BundleWriter;
import org.persephonee.core.pipeline.PersonalisePipeline;
import org.persephonee.core.runtime.EarlyExitModel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Re-training the last stage from the cache: it trains, the backbone does not, and the bundle carries it. */
class RetrainedStagesTest {
    @TempDir
    static Path tmp;
    static Path persona;

    @BeforeAll
    static void world() throws Exception {
        persona = Fixtures.persona(tmp.resolve("p"), new int[] {0, 1, 2}, 8, 40, 12, 3);
    }

    private static PersonalisationConfig.Builder config() {
        // exits before the re-trained stage only; block1's output is the copy's cached input; no cross-fitting,
        // so the re-trained stage is kept whatever validation would say (that choice is tested apart)
        return Fixtures.quick().optLabels(LabelRegime.ALL).optBnMode(BnMode.KEEP).optValidationFolds(0).setPlacements(List.of(
                new ExitPlacement("stem", HeadSpec.parse("grid")), new ExitPlacement("block1", HeadSpec.parse("grid"))));
    }

    private static List<float[]> parameters(Iterable<Pair<String, Parameter>> ps) {
        return parameters(ps, true);
    }

    /** Parameter values in order; without BatchNorm running statistics unless asked. */
    private static List<float[]> parameters(Iterable<Pair<String, Parameter>> ps, boolean statistics) {
        List<float[]> out = new ArrayList<>();
        for (Pair<String, Parameter> p : ps) {
            Parameter.Type t = p.getValue().getType();
            if (statistics || (t != Parameter.Type.RUNNING_MEAN && t != Parameter.Type.RUNNING_VAR)) {
                out.add(p.getValue().getArray().toFloatArray());
            }
        }
        return out;
    }

    /** Mean cross-entropy and accuracy of the final exit on the labelled training images. */
    private static double[] trainingFit(Backbone bb, PersonalisationResult r) {
        PreparedData d = r.data();
        double loss = 0;
        int correct = 0;
        int n = 0;
        try (NDManager m = bb.manager().newSubManager()) {
            for (int i = 0; i < d.trainSize(); i++) {
                String label = d.trainLabel.get(i);
                if (label == null) {
                    continue;
                }
                List<NDArray> outs = bb.forwardAll(m.create(d.trainX.get(i), bb.batchShape(1)));
                NDArray last = r.retrained() != null ? r.retrained().forward(outs.get(1)) : outs.get(2);
                float[] p = r.finalHead().forward(last, false).softmax(1).toFloatArray();
                int y = r.labelSpace().indexOf(label);
                loss -= Math.log(Math.max(1e-12, p[y]));
                correct += org.persephonee.core.util.Vectors.argmax(p) == y ? 1 : 0;
                n++;
            }
        }
        return new double[] {loss / n, correct / (double) n};
    }

    @Test
    void theCopyOfTheLastStageTrainsAndTheBackboneDoesNot() throws Exception {
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            PersonalDataset ds = Fixtures.load(bb, persona);
            List<float[]> before = parameters(bb.network().getParameters());
            try (PersonalisationResult frozen = new PersonalisationJob(bb, ds, config().build())
                    .run(PersonalisationJob.SILENT, () -> false);
                 PersonalisationResult re = new PersonalisationJob(bb, ds, config().optRetrainLast(1).build())
                         .run(PersonalisationJob.SILENT, () -> false)) {
                assertNull(frozen.retrained());
                assertEquals(List.of("block2"), re.retrained().stages());
                assertEquals("block1", re.retrained().inputStage());
                // the backbone is exactly as it was
                List<float[]> after = parameters(bb.network().getParameters());
                for (int k = 0; k < before.size(); k++) {
                    assertArrayEquals(before.get(k), after.get(k), "backbone parameter " + k);
                }
                // the copy's weights moved away from the backbone's block2 (not only its BatchNorm statistics)
                List<float[]> orig = parameters(bb.stage("block2").block().getParameters(), false);
                List<float[]> copy = parameters(re.retrained().block().getParameters(), false);
                double moved = 0;
                for (int k = 0; k < orig.size(); k++) {
                    for (int j = 0; j < orig.get(k).length; j++) {
                        moved = Math.max(moved, Math.abs(orig.get(k)[j] - copy.get(k)[j]));
                    }
                }
                assertTrue(moved > 1e-3, "re-trained block2 differs from the backbone's by at most " + moved);
                // training started from the same re-fitted head (same seed): it lowered the training loss
                double[] f = trainingFit(bb, frozen);
                double[] r = trainingFit(bb, re);
                assertTrue(r[0] < f[0] - 1e-3, "training loss re-trained " + r[0] + " vs frozen " + f[0]);
                assertTrue(r[1] >= f[1], "training accuracy re-trained " + r[1] + " vs frozen " + f[1]);
                // the final exit's evaluation predictions are the re-trained ones
                assertTrue(!java.util.Arrays.deepEquals(frozen.predictions().finalExit(),
                        re.predictions().finalExit()));
            }
        }
    }

    @Test
    void crossFittingDecidesWhetherTheRetrainedStageIsKept() throws Exception {
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            PersonalDataset ds = Fixtures.load(bb, persona);
            try (PersonalisationResult frozen = new PersonalisationJob(bb, ds, config().optValidationFolds(4).build())
                    .run(PersonalisationJob.SILENT, () -> false);
                 PersonalisationResult re = new PersonalisationJob(bb, ds, config().optValidationFolds(4)
                         .optRetrainLast(1).build()).run(PersonalisationJob.SILENT, () -> false)) {
                String choice = re.retrainChoice();
                assertTrue(choice != null && choice.contains("out of fold"), String.valueOf(choice));
                assertEquals(choice.startsWith("kept"), re.retrained() != null, choice);
                if (re.retrained() == null) {
                    // dropped: the final exit is the frozen stages' re-fitted head again, as without re-training
                    assertTrue(java.util.Arrays.deepEquals(frozen.predictions().finalExit(),
                            re.predictions().finalExit()));
                    assertArrayEquals(frozen.finalHead().linear()[0], re.finalHead().linear()[0]);
                }
            }
        }
    }

    @Test
    void anExitOnAStageThatWouldBeRetrainedIsRefused() throws Exception {
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            PersonalDataset ds = Fixtures.load(bb, persona);
            PersonalisationConfig cfg = config().optRetrainLast(2).build();
            PersonalisationException e = assertThrows(PersonalisationException.class,
                    () -> new PersonalisationJob(bb, ds, cfg).run(PersonalisationJob.SILENT, () -> false).close());
            assertTrue(e.getMessage().contains("block1"), e.getMessage());
        }
    }

    @Test
    void theBundleRunsTheRetrainedStageAsTheFinalExit() throws Exception {
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            PersonalDataset ds = Fixtures.load(bb, persona);
            try (PersonalisePipeline.Outcome o = PersonalisePipeline.run(bb, ds, config().optRetrainLast(1).build(),
                    new PersonalisePipeline.Options(5.0, org.persephonee.core.eval.Confidence.MAX_SOFTMAX, false,
                            null, 5), PersonalisationJob.SILENT, () -> false)) {
                Path bundle = BundleWriter.write(tmp.resolve("bundle"), bb, o.result(), o.evaluation(), o.choice());
                assertTrue(Files.isRegularFile(bundle.resolve("retrained-stages.params")));
                float[][] fin = o.result().predictions().finalExit();
                List<String> names = o.result().labelSpace().names();
                try (EarlyExitModel m = EarlyExitModel.load(bundle)) {
                    m.setThresholds(1.01);
                    List<PersonalImage> imgs = ds.test();
                    for (int i = 0; i < imgs.size(); i++) {
                        EarlyExitModel.Prediction p = m.classify(imgs.get(i).path());
                        assertEquals("final", p.exit());
                        assertEquals(names.get(org.persephonee.core.util.Vectors.argmax(fin[i])), p.label(),
                                "image " + i);
                        assertEquals(fin[i][org.persephonee.core.util.Vectors.argmax(fin[i])], p.confidence(), 1e-4,
                                "image " + i);
                    }
                }
                // the same command run again replaces its own bundle (the re-trained stages' weights were once
                // taken for someone else's file and the write refused)
                assertEquals(bundle, BundleWriter.write(tmp.resolve("bundle"), bb, o.result(), o.evaluation(),
                        o.choice()));
                assertTrue(Files.isRegularFile(bundle.resolve("retrained-stages.params")));
            }
        }
    }
}
