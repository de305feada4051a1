package org.persephonee.core.personalise;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.data.PersonalImage;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PersonalisationJobTest {
    @TempDir
    static Path tmp;
    static Path persona;

    @BeforeAll
    static void world() throws Exception {
        persona = Fixtures.persona(tmp.resolve("p"), new int[] {0, 1, 2}, 8, 60, 15, 1);
    }

    private static PersonalisationResult run(PersonalisationConfig cfg) throws Exception {
        return run(cfg, persona);
    }

    private static PersonalisationResult run(PersonalisationConfig cfg, Path images) throws Exception {
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            PersonalDataset ds = Fixtures.load(bb, images);
            return new PersonalisationJob(bb, ds, cfg).run(PersonalisationJob.SILENT, () -> false);
        }
    }

    @Test
    void allLabelsTrainsExitsAboveChance() throws Exception {
        try (PersonalisationResult r = run(Fixtures.quick().optLabels(LabelRegime.ALL).build())) {
            assertEquals(List.of("Cat", "Dog", "Ankle boot"), r.labelSpace().names());
            assertEquals(24, r.targets().labelled());
            assertEquals(2, r.heads().size());
            // labels exist: the final classifier is re-fitted where that is better out of fold, else kept
            assertTrue(r.refitChoice() != null, "the re-fit was checked");
            assertEquals(r.refitChoice().startsWith("re-fitted"), r.finalHead() != null, r.refitChoice());
            assertEquals(45, r.predictions().size());
            for (int j = 0; j < 2; j++) {
                assertTrue(r.exitAccuracy(j) > 0.6, "exit " + j + " accuracy " + r.exitAccuracy(j));
            }
            assertTrue(r.finalAccuracy() > 0.6, "final " + r.finalAccuracy());
            assertTrue(r.timing().featureCache() > 0 && r.timing().headTraining() > 0);
            // the held-out images' cache and predictions are evaluation, not training
            assertTrue(r.timing().evaluation() > 0, "evaluation " + r.timing().evaluation());
            assertTrue(r.timing().training() + r.timing().evaluation() <= r.timing().total() + 1e-9);
        }
    }

    @Test
    void linearExitsOfVeryDifferentWidthsTrainInSeparateBatchesAndAllLearn() throws Exception {
        // a 4x4 grid head is 16x wider than a global-pool head on the same channels: two batched groups
        PersonalisationConfig cfg = Fixtures.quick().optLabels(LabelRegime.ALL).setPlacements(List.of(
                new org.persephonee.core.exits.ExitPlacement("stem", org.persephonee.core.exits.HeadSpec.parse("grid")),
                new org.persephonee.core.exits.ExitPlacement("block1", org.persephonee.core.exits.HeadSpec.parse("linear"))))
                .build();
        try (PersonalisationResult r = run(cfg)) {
            assertTrue(r.heads().get(0).probeWidth() > ExitTrainer.PROBE_GROUP_SPREAD * r.heads().get(1).probeWidth());
            for (int j = 0; j < 2; j++) {
                assertTrue(r.exitAccuracy(j) > 0.6, "exit " + j + " accuracy " + r.exitAccuracy(j));
            }
        }
    }

    @Test
    void someLabelsKeepAStratifiedShare() throws Exception {
        try (PersonalisationResult r = run(Fixtures.quick().optLabels(LabelRegime.parse("0.25")).build())) {
            assertEquals(6, r.targets().labelled(), "2 of 8 labels per class");
            assertTrue(r.targets().pseudoLabelled() + r.targets().distilled() > 0);
            assertTrue(r.exitAccuracy(1) > 0.5, "block1 " + r.exitAccuracy(1));
        }
    }

    @Test
    void aReFitThatIsWorseOutOfFoldGivesWayToTheBackbonesClassifier() throws Exception {
        // a dim, grainy capture and four labels per class: a re-fit on them forgets what the shipped classifier
        // knew (out of fold 5 of 12 labelled photos against its 10); the paper's method re-fits anyway
        Path grainy = Fixtures.persona(tmp.resolve("grainy"), new int[] {0, 1, 2}, 4, 30, 10, 1, 0.3, 0.35);
        double kept;
        try (PersonalisationResult r = run(Fixtures.quick().optLabels(LabelRegime.ALL).build(), grainy)) {
            assertEquals(12, r.targets().labelled());
            assertTrue(r.refitChoice() != null && r.refitChoice().startsWith("the backbone's classifier kept"),
                    r.refitChoice());
            assertTrue(r.finalHead() == null, "the final exit is the backbone's classifier");
            assertEquals(r.refitChoice(), r.provenance().get("refit_choice"));
            kept = r.finalAccuracy();
        }
        try (PersonalisationResult r = run(Fixtures.quick().optLabels(LabelRegime.ALL).optRefitChecked(false).build(),
                grainy)) {
            assertTrue(r.finalHead() != null, "--refit-always: re-fitted as the paper does");
            assertEquals(null, r.refitChoice());
            assertTrue(kept > r.finalAccuracy(), "the test photos agree: kept " + kept + ", re-fitted "
                    + r.finalAccuracy());
        }
    }

    @Test
    void aClassTheBackboneDoesNotKnowAlwaysNeedsTheReFit() throws Exception {
        Path own = Fixtures.persona(tmp.resolve("own"), new int[] {0, 1, 2}, 3, 20, 5, 8, 0.9);
        for (String part : List.of("labelled", "test")) {
            Files.move(own.resolve(part).resolve("ankle_boot"), own.resolve(part).resolve("teapot"));
        }
        try (PersonalisationResult r = run(Fixtures.quick().optLabels(LabelRegime.ALL).build(), own)) {
            assertTrue(r.labelSpace().names().contains("teapot"), r.labelSpace().names().toString());
            assertTrue(r.finalHead() != null, "only a re-fitted classifier can name the person's own class");
            assertTrue(r.refitChoice().contains("does not know every class"), r.refitChoice());
        }
    }

    @Test
    void noLabelsLearnsFromTheFinalExitAsTeacher() throws Exception {
        try (PersonalisationResult r = run(Fixtures.quick().optLabels(LabelRegime.NONE).build())) {
            assertEquals(0, r.targets().labelled());
            assertTrue(r.targets().pseudoLabelled() > 0, "confident teacher predictions become pseudo-labels");
            assertTrue(r.finalHead() == null, "without labels the final exit is the backbone's classifier");
            assertTrue(r.labelSpace().size() >= 2);
            // hidden labels let us check the pseudo-labels the teacher gave
            assertTrue(r.targets().pseudoLabelAccuracy() > 0.5, "pseudo-label accuracy " + r.targets().pseudoLabelAccuracy());
            assertTrue(r.exitAccuracy(1) > 0.5, "block1 " + r.exitAccuracy(1));
        }
    }

    @Test
    void theLateEnsembleTeachesASecondRoundOnlyWhereImagesAreUnlabelled() throws Exception {
        // a dimmer persona than the others: the frozen final exit is unsure of many images
        Path dim = Fixtures.persona(tmp.resolve("dim"), new int[] {0, 1, 2}, 8, 60, 15, 3, 0.3);
        PersonalisationConfig.Builder none = Fixtures.quick().optLabels(LabelRegime.NONE);
        try (PersonalisationResult paper = run(none.optTeacher(Teacher.FINAL).build(), dim);
             PersonalisationResult ens = run(none.optTeacher(Teacher.ENSEMBLE).build(), dim)) {
            assertEquals("ensemble", ens.config().describe().get("teacher"), "the result records who taught");
            assertTrue(differ(paper.predictions().exit(0), ens.predictions().exit(0)),
                    "a second round re-trained the exits");
            assertTrue(ens.exitAccuracy(1) > 0.5, "block1 " + ens.exitAccuracy(1));
            assertTrue(ens.validation() != null, "the second round is cross-fitted too");
        }
        // every training image labelled (no unlabelled folder): nobody is taught, so both teachers give the
        // same exits
        Path labelled = Fixtures.persona(tmp.resolve("labelled-only"), new int[] {0, 1, 2}, 12, 0, 10, 4);
        PersonalisationConfig.Builder all = Fixtures.quick().optLabels(LabelRegime.ALL).optEpochs(3);
        try (PersonalisationResult paper = run(all.optTeacher(Teacher.FINAL).build(), labelled);
             PersonalisationResult ens = run(all.optTeacher(Teacher.ENSEMBLE).build(), labelled)) {
            assertEquals(0, ens.targets().pseudoLabelled() + ens.targets().distilled());
            assertTrue(!differ(paper.predictions().exit(0), ens.predictions().exit(0)));
        }
    }

    private static boolean differ(float[][] a, float[][] b) {
        for (int i = 0; i < a.length; i++) {
            for (int c = 0; c < a[i].length; c++) {
                if (Math.abs(a[i][c] - b[i][c]) > 1e-5f) {
                    return true;
                }
            }
        }
        return false;
    }

    @Test
    void sameSeedSameResult() throws Exception {
        PersonalisationConfig cfg = Fixtures.quick().optEpochs(3).build();
        try (PersonalisationResult a = run(cfg); PersonalisationResult b = run(cfg)) {
            for (int j = 0; j < 2; j++) {
                float[][] pa = a.predictions().exit(j);
                float[][] pb = b.predictions().exit(j);
                for (int i = 0; i < pa.length; i++) {
                    assertArrayEquals(pa[i], pb[i], 1e-6f);
                }
            }
        }
    }

    @Test
    void cacheSpillsToDiskBeyondItsBudgetWithTheSameResult() throws Exception {
        PersonalisationConfig cfg = Fixtures.quick().optEpochs(2).build();
        PersonalisationConfig spill = cfg.toBuilder().optCacheBudgetBytes(0).optSpillDir(tmp.resolve("spill")).build();
        try (PersonalisationResult a = run(cfg); PersonalisationResult b = run(spill)) {
            assertFalse(a.cacheSpilled());
            assertTrue(b.cacheSpilled());
            assertTrue(b.cacheSpilledBytes() > 0);
            for (int i = 0; i < a.predictions().size(); i++) {
                assertArrayEquals(a.predictions().exit(0)[i], b.predictions().exit(0)[i], 1e-6f);
            }
            try (var s = Files.list(tmp.resolve("spill"))) {
                assertEquals(0, s.count(), "spilled files are deleted when the job ends");
            }
        }
    }

    @Test
    void cancellingRightAfterBatchNormAdaptationRestoresTheShippedStatistics() throws Exception {
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            Map<String, float[]> before = BnStats.snapshot(bb);
            PersonalDataset ds = Fixtures.load(bb, persona);
            // cancel at the first poll after the statistics changed: inside the keep-or-adapt check
            java.util.function.BooleanSupplier adapted = () -> BnStats.snapshot(bb).entrySet().stream()
                    .anyMatch(e -> !java.util.Arrays.equals(e.getValue(), before.get(e.getKey())));
            PersonalisationConfig cfg = Fixtures.quick().optBnMode(BnMode.AUTO).build();
            assertThrows(CancellationException.class,
                    () -> new PersonalisationJob(bb, ds, cfg).run(PersonalisationJob.SILENT, adapted));
            Map<String, float[]> after = BnStats.snapshot(bb);
            for (String k : before.keySet()) {
                assertArrayEquals(before.get(k), after.get(k), "BatchNorm statistics restored: " + k);
            }
        }
    }

    @Test
    void theProgressBarFillsOncePerStepNotOncePerRoundOrFold() throws Exception {
        // a few labels: two rounds of exit training (the late ensemble teaches the second), then four validation folds
        List<String> steps = new java.util.ArrayList<>();
        List<double[]> progress = new java.util.ArrayList<>();
        PersonalisationJob.Listener l = new PersonalisationJob.Listener() {
            @Override
            public void onProgress(PersonalisationJob.Phase phase, double fraction, double etaSeconds) {
                steps.add(phase.name());
                progress.add(new double[] {fraction, etaSeconds});
            }
        };
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            PersonalDataset ds = Fixtures.load(bb, persona);
            try (PersonalisationResult r = new PersonalisationJob(bb, ds, Fixtures.quick()
                    .optLabels(LabelRegime.parse("0.5")).build()).run(l, () -> false)) {
                assertTrue(r.heads().size() == 2);
            }
        }
        for (String step : List.of("TRAIN", "VALIDATE")) {
            double last = -1;
            int n = 0;
            for (int i = 0; i < steps.size(); i++) {
                if (!steps.get(i).equals(step)) {
                    continue;
                }
                double f = progress.get(i)[0];
                assertTrue(f >= last - 1e-9, step + ": the bar went back from " + last + " to " + f);
                assertTrue(f < 0.1 || f > 0.5 || progress.get(i)[1] > 0, step + ": no time left at " + f);
                last = f;
                n++;
            }
            assertTrue(n > 10, step + ": " + n + " progress reports");
            assertEquals(1.0, last, 1e-9, step + " ends full");
        }
    }

    @Test
    void cancelStopsWithinOneSecondAndLeavesTheBackboneUntouched() throws Exception {
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            Map<String, float[]> before = BnStats.snapshot(bb);
            PersonalDataset ds = Fixtures.load(bb, persona);
            AtomicBoolean cancel = new AtomicBoolean();
            AtomicLong cancelledAt = new AtomicLong();
            PersonalisationJob.Listener l = new PersonalisationJob.Listener() {
                @Override
                public void onEpoch(int epoch, int epochs, List<ExitStats> stats, EvalPredictions snapshot) {
                    if (epoch == 1) {
                        cancelledAt.set(System.nanoTime());
                        cancel.set(true);
                    }
                }
            };
            PersonalisationConfig cfg = Fixtures.quick().optEpochs(500).optBnMode(BnMode.ADAPT).build();
            ExecutorService ex = Executors.newSingleThreadExecutor();
            try {
                Future<PersonalisationResult> f = ex.submit(() -> new PersonalisationJob(bb, ds, cfg).run(l, cancel::get));
                java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
                        () -> f.get(60, TimeUnit.SECONDS));
                long stopped = System.nanoTime();
                assertTrue(e.getCause() instanceof CancellationException, String.valueOf(e.getCause()));
                assertTrue((stopped - cancelledAt.get()) / 1e9 < 1.0, "took " + (stopped - cancelledAt.get()) / 1e9 + " s");
            } finally {
                ex.shutdownNow();
            }
            Map<String, float[]> after = BnStats.snapshot(bb);
            for (String k : before.keySet()) {
                assertArrayEquals(before.get(k), after.get(k), "BatchNorm statistics restored after cancel: " + k);
            }
        }
    }

    @Test
    void batchNormAdaptationChangesStatisticsOnlyForTheRun() throws Exception {
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            Map<String, float[]> before = BnStats.snapshot(bb);
            PersonalDataset ds = Fixtures.load(bb, persona);
            try (PersonalisationResult r = new PersonalisationJob(bb, ds, Fixtures.quick().optEpochs(1)
                    .optBnMode(BnMode.ADAPT).build()).run(PersonalisationJob.SILENT, () -> false)) {
                assertTrue(r.batchNorm().adapted());
                String k = before.keySet().iterator().next();
                assertFalse(java.util.Arrays.equals(before.get(k), r.batchNorm().stats().get(k)));
            }
            Map<String, float[]> after = BnStats.snapshot(bb);
            before.forEach((k, v) -> assertArrayEquals(v, after.get(k)));
        }
    }

    @Test
    void impossibleRegimesAndDataAreExplained() throws Exception {
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            // no images at all
            PersonalisationException e = assertThrows(PersonalisationException.class, () -> new PersonalisationJob(bb,
                    new PersonalDataset(null, List.of()), Fixtures.quick().build()).run(PersonalisationJob.SILENT, () -> false));
            assertTrue(e.getMessage().contains("no images"), e.getMessage());
            // labels asked for, none given
            Path unl = Fixtures.persona(tmp.resolve("unl"), new int[] {0, 1}, 0, 30, 5, 2);
            PersonalDataset d2 = Fixtures.load(bb, unl);
            e = assertThrows(PersonalisationException.class, () -> new PersonalisationJob(bb, d2,
                    Fixtures.quick().optLabels(LabelRegime.ALL).build()).run(PersonalisationJob.SILENT, () -> false));
            assertTrue(e.getMessage().contains("none of the") && e.getMessage().contains("labels 'none'"), e.getMessage());
            // a single class, no unlabelled images
            Path one = Fixtures.persona(tmp.resolve("one"), new int[] {1}, 6, 0, 4, 3);
            PersonalDataset d3 = Fixtures.load(bb, one);
            e = assertThrows(PersonalisationException.class, () -> new PersonalisationJob(bb, d3,
                    Fixtures.quick().build()).run(PersonalisationJob.SILENT, () -> false));
            assertTrue(e.getMessage().contains("at least two classes"), e.getMessage());
            // an exit on a stage that does not exist
            e = assertThrows(PersonalisationException.class, () -> new PersonalisationJob(bb, d3,
                    Fixtures.quick().setPlacements(org.persephonee.core.exits.ExitPlacement.parseList("block9:linear"))
                            .build()).run(PersonalisationJob.SILENT, () -> false));
            assertTrue(e.getMessage().contains("no stage 'block9'"), e.getMessage());
        }
    }

    @Test
    void corruptImagesAreSkippedNotFatal() throws Exception {
        Path p = Fixtures.persona(tmp.resolve("corrupt"), new int[] {0, 1}, 6, 10, 5, 4);
        Files.writeString(p.resolve("labelled").resolve("cat").resolve("broken.png"), "garbage");
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            PersonalDataset ds = Fixtures.load(bb, p);
            assertEquals(12, ds.countsByClass(PersonalImage.Split.TRAIN).values().stream().mapToInt(i -> i).sum());
            // the file goes bad after import: the job skips it too
            Files.writeString(ds.labelled().get(0).path(), "now corrupt");
            try (PersonalisationResult r = new PersonalisationJob(bb, ds, Fixtures.quick().optEpochs(1).build())
                    .run(PersonalisationJob.SILENT, () -> false)) {
                assertEquals(1, r.data().skipped().size());
                assertEquals(11, r.targets().labelled());
            }
        }
    }

    @Test
    void aNonFiniteLossDuringFullFineTuningStopsItNamingTheStepAndLeavesTheBackboneAsItWas() throws Exception {
        Path dir = Fixtures.trainedBackbone();
        String before = org.persephonee.core.util.Hashes.sha256(Files.readAllBytes(dir.resolve(BackboneIO.PARAMS_FILE)));
        try (PersonalisationResult r = run(Fixtures.quick().optLabels(LabelRegime.ALL).build())) {
            org.persephonee.core.engine.NumericGuard.injectAt(org.persephonee.core.engine.NumericGuard.FULL_FINE_TUNE, 2);
            try {
                var e = assertThrows(org.persephonee.core.engine.NumericGuard.NonFiniteException.class,
                        () -> FullFineTune.run(dir, r, 2, 0.01f, () -> false));
                assertEquals(2, e.step());
                assertTrue(e.getMessage().contains("non-finite during full fine-tuning at step 2"), e.getMessage());
            } finally {
                org.persephonee.core.engine.NumericGuard.injectAt(null, -1);
            }
            // without the fault the same call trains to the end
            assertTrue(FullFineTune.run(dir, r, 1, 0.01f, () -> false).accuracy() > 0.3);
        }
        assertEquals(before, org.persephonee.core.util.Hashes.sha256(Files.readAllBytes(dir.resolve(BackboneIO.PARAMS_FILE))));
    }
}
