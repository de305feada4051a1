package org.persephonee.core.personalise;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.eval.Confidence;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;
import org.persephonee.core.export.BundleWriter;
import org.persephonee.core.pipeline.PersonalisePipeline;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * New photos without starting over: a run resumed from a bundle keeps its BatchNorm statistics and label space,
 * runs the backbone on the new photos only (the feature memo knows the others), starts its heads from the bundle's
 * weights and chooses on held-out predictions without cross-fitting; a new class makes the heads start fresh.
 */
class ResumeTest {
    @TempDir
    Path tmp;

    private static PersonalisationConfig.Builder config(Path memo) {
        return PersonalisationConfig.builder()
                .setPlacements(List.of(new ExitPlacement("stem", HeadSpec.grid(2)),
                        new ExitPlacement("block1", HeadSpec.grid(2))))
                .optEpochs(6).optBatchSize(16).optLearningRate(0.05f).optSeed(5).optBnMode(BnMode.ADAPT)
                .optValidationFolds(4).optFeatureMemo(memo)
                // these tests follow the re-fitted final exit from run to run: on the tiny backbone's photos the
                // out-of-fold check keeps the classifier instead ({@link #theReFitIsDecidedAgainWhenLabelsArrive})
                .optRefitChecked(false);
    }

    /** Copies every photo of {@code from} into {@code to}, names prefixed: a person's later photos. */
    private static void addPhotos(Path from, Path to, String prefix) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path f : s.filter(Files::isRegularFile).toList()) {
                Path rel = from.relativize(f);
                Path target = to.resolve(rel).resolveSibling(prefix + rel.getFileName());
                Files.createDirectories(target.getParent());
                Files.copy(f, target);
            }
        }
    }

    private static PersonalisePipeline.Options options() {
        return new PersonalisePipeline.Options(5.0, Confidence.MAX_SOFTMAX, false, null, 3);
    }

    @Test
    void aResumedRunStartsFromTheEarlierHeadsAndRunsTheBackboneOnTheNewPhotosOnly() throws Exception {
        Path a = Fixtures.persona(tmp.resolve("a"), new int[] {0, 1, 2}, 8, 60, 15, 1);
        Path b = tmp.resolve("b");
        addPhotos(a, b, "");
        Path later = Fixtures.persona(tmp.resolve("later"), new int[] {0, 1, 2}, 4, 30, 0, 2);
        addPhotos(later, b, "n");
        Path memo = tmp.resolve("memo");
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            Path bundle;
            float[] deployed;
            float[] trainedOnAll;
            try (PersonalisePipeline.Outcome first = PersonalisePipeline.run(bb, Fixtures.load(bb, a),
                    config(memo).build(), options(), PersonalisationJob.SILENT, () -> false)) {
                bundle = BundleWriter.write(tmp.resolve("bundle"), bb, first.result(), first.evaluation(),
                        first.choice());
                assertTrue(first.result().headsFrom().startsWith("mean of the 4 cross-fitted folds' heads"),
                        first.result().headsFrom());
                deployed = first.result().heads().get(0).linear()[0];
                trainedOnAll = first.result().trainedOnAll("stem:grid2")[0];
            }
            ResumeState state = ResumeState.read(bundle);
            assertEquals(List.of("stem:grid2", "block1:grid2"), state.exitKeys());
            // the bundle runs the folds' mean; a later run carries on from the heads as trained on all the photos
            assertArrayEquals(trainedOnAll, state.exitWeights("stem:grid2")[0], 0f);
            assertFalse(java.util.Arrays.equals(deployed, trainedOnAll), "the deployed head is the folds' mean");
            PersonalDataset ds = Fixtures.load(bb, b);
            // a learning rate of almost nothing: the heads end where they started, so they started from the bundle;
            // updating the deployed heads (the folds not carried on), from them as trained on all the photos
            try (PersonalisationResult still = new PersonalisationJob(bb, ds, config(memo).optResume(state)
                    .optEpochs(1).optLearningRate(1e-7f).optCarryFolds(false).build())
                    .run(PersonalisationJob.SILENT, () -> false)) {
                for (ExitHead h : still.heads()) {
                    float[][] w = state.exitWeights(h.key());
                    assertArrayEquals(w[0], h.linear()[0], 1e-4f, h.key() + " starts from the bundle's weights");
                }
                assertArrayEquals(state.finalWeights()[0], still.finalHead().linear()[0], 1e-4f);
                // 12 labelled and 30 unlabelled new photos; the first run's 84 and its test photos are known
                assertEquals(42, still.cacheUse().computed(), "the backbone ran on the new photos only");
            }
            // carrying the folds on: each fold starts from its own weights, so their mean is the bundle's
            try (PersonalisationResult carried = new PersonalisationJob(bb, ds, config(memo).optResume(state)
                    .optEpochs(1).optLearningRate(1e-7f).build()).run(PersonalisationJob.SILENT, () -> false)) {
                for (ExitHead h : carried.heads()) {
                    assertArrayEquals(state.deployedWeights(h.key())[0], h.linear()[0], 1e-4f, h.key());
                }
                assertArrayEquals(state.finalDeployedWeights()[0], carried.finalHead().linear()[0], 1e-4f);
                assertTrue(carried.resumed().notes().stream().anyMatch(n -> n.contains("the 4 folds of bundle carried "
                        + "on: 84 photo(s) keep their fold, 42 new one(s)")), carried.resumed().notes().toString());
                assertTrue(carried.headsFrom().contains("carried on"), carried.headsFrom());
                assertFalse(java.util.Arrays.equals(state.exitWeights("stem:grid2")[0],
                        carried.heads().get(0).linear()[0]), "not the heads as trained on all the photos");
            }
            try (PersonalisationResult resumed = new PersonalisationJob(bb, ds, config(memo).optResume(state)
                    .optEpochs(3).build()).run(PersonalisationJob.SILENT, () -> false);
                 PersonalisationResult scratch = new PersonalisationJob(bb, ds, config(null).build())
                         .run(PersonalisationJob.SILENT, () -> false)) {
                assertNotNull(resumed.resumed());
                assertTrue(resumed.resumed().warm(), resumed.resumed().notes().toString());
                assertTrue(resumed.batchNorm().reason().startsWith("resumed from"), resumed.batchNorm().reason());
                assertEquals(state.labelSpace().names(), resumed.labelSpace().names());
                assertEquals(0, resumed.cacheUse().computed(), "every photo known now");
                assertNotNull(resumed.validation(), "chosen on held-out predictions");
                assertEquals(ds.labelled().size() + ds.unlabelled().size(), resumed.validation().size());
                assertTrue(resumed.resumed().notes().stream().anyMatch(n -> n.contains("84 photo(s) keep their fold")),
                        resumed.resumed().notes().toString());
                // the next update carries the folds on again: every photo has its fold in the state
                Path next = Files.createDirectories(tmp.resolve("next"));
                ResumeState.write(next, resumed);
                ResumeState.File f = new com.google.gson.Gson().fromJson(Files.readString(
                        next.resolve(ResumeState.FILE)), ResumeState.File.class);
                assertEquals(4, f.folds().get("stem:grid2").size());
                assertTrue(f.validation().stream().allMatch(p -> p.fold() != null));
                double r = resumed.finalAccuracy();
                double s = scratch.finalAccuracy();
                assertTrue(r >= s - 0.05, "resumed final exit " + r + " vs from scratch " + s);
            }
        }
    }

    /**
     * An update with nothing new (a second click on Personalise with "Update the last run" ticked) keeps the
     * deployed heads and the choice: training them more only moved converged heads (tilted-phone's final exit
     * 72.5 -> 66.9 %). A changed label is news: that update trains.
     */
    @Test
    void anUpdateWithNothingNewKeepsTheHeadsAndAChangedLabelTrainsThem() throws Exception {
        Path a = Fixtures.persona(tmp.resolve("a"), new int[] {0, 1, 2}, 8, 60, 15, 1);
        Path memo = tmp.resolve("memo");
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            Path bundle;
            float[][] deployed;
            float[] deployedFinal;
            double accuracy;
            java.util.Map<String, Double> firstMs;
            org.persephonee.core.eval.CascadeResult firstChoice;
            try (PersonalisePipeline.Outcome first = PersonalisePipeline.run(bb, Fixtures.load(bb, a),
                    config(memo).build(), options(), PersonalisationJob.SILENT, () -> false)) {
                bundle = BundleWriter.write(tmp.resolve("bundle"), bb, first.result(), first.evaluation(),
                        first.choice());
                deployed = first.result().heads().stream().map(h -> h.linear()[0]).toArray(float[][]::new);
                deployedFinal = first.result().finalHead().linear()[0];
                accuracy = first.choice().cascade().accuracy();
                firstMs = first.profile().stageMs();
                firstChoice = first.choice().cascade();
            }
            ResumeState state = ResumeState.read(bundle);
            try (PersonalisePipeline.Outcome again = PersonalisePipeline.run(bb, Fixtures.load(bb, a),
                    config(memo).optResume(state).optEpochs(3).build(), options(), PersonalisationJob.SILENT,
                    () -> false)) {
                PersonalisationResult r = again.result();
                assertFalse(r.resumed().trained(), r.resumed().notes().toString());
                for (int h = 0; h < deployed.length; h++) {
                    assertArrayEquals(deployed[h], r.heads().get(h).linear()[0], 0f, r.heads().get(h).key());
                }
                assertArrayEquals(deployedFinal, r.finalHead().linear()[0], 0f);
                assertEquals(accuracy, again.choice().cascade().accuracy(), 1e-12);
                // and chooses with the milliseconds the first run chose with: measured anew, the timer's noise could
                // move the operating point of a run that learnt nothing new
                assertEquals(firstMs, again.profile().stageMs());
                assertTrue(again.profile().source().startsWith("the last run's milliseconds (nothing new since)"),
                        again.profile().source());
                assertArrayEquals(firstChoice.exits(), again.choice().cascade().exits());
                assertArrayEquals(firstChoice.thresholds(), again.choice().cascade().thresholds(), 0.0);
                assertEquals(0, r.cacheUse().computed());
                // the kept run passes on the weights as trained on all the photos, for the next real update
                Path kept = BundleWriter.write(tmp.resolve("kept"), bb, r, again.evaluation(), again.choice());
                assertArrayEquals(state.exitWeights("stem:grid2")[0],
                        ResumeState.read(kept).exitWeights("stem:grid2")[0], 0f);
                assertEquals(4, ResumeState.read(kept).foldCount(), "and the folds");
                assertEquals(again.profile().source(), ResumeState.read(kept).latency().source(), "named once");
            }
            // another learning rate: the update trains, carries the earlier heads on, and says which setting changed
            try (PersonalisationResult r = new PersonalisationJob(bb, Fixtures.load(bb, a), config(memo)
                    .optResume(state).optEpochs(3).optLearningRate(0.02f).build())
                    .run(PersonalisationJob.SILENT, () -> false)) {
                assertTrue(r.resumed().trained(), r.resumed().notes().toString());
                assertTrue(r.resumed().warm(), r.resumed().notes().toString());
                assertTrue(r.resumed().notes().stream().anyMatch(n -> n.contains("the training settings changed since "
                        + "bundle (lr 0.05 → 0.02): the heads carry on")), r.resumed().notes().toString());
            }
            // the person moves one labelled photo to another class: news
            Files.move(a.resolve("labelled/cat/l0.png"), a.resolve("labelled/dog/moved.png"));
            try (PersonalisationResult r = new PersonalisationJob(bb, Fixtures.load(bb, a), config(memo)
                    .optResume(state).optEpochs(3).build()).run(PersonalisationJob.SILENT, () -> false)) {
                assertTrue(r.resumed().trained(), r.resumed().notes().toString());
                assertFalse(java.util.Arrays.equals(deployed[0], r.heads().get(0).linear()[0]));
                // a known photo relabelled: its kept held-out predictions are stale, so the heads start fresh,
                // cross-fitted, for the first run's epochs (6 here), not the update's 3
                assertFalse(r.resumed().warm(), r.resumed().notes().toString());
                assertTrue(r.resumed().notes().stream().anyMatch(n -> n.contains("1 photo(s) of bundle have another "
                        + "label now")), r.resumed().notes().toString());
                assertEquals(6, r.config().epochs());
                assertTrue(r.headsFrom().startsWith("mean of the 4 cross-fitted folds' heads"), r.headsFrom());
                assertEquals(0, r.cacheUse().computed(), "the backbone ran on no photo");
            }
        }
    }

    /**
     * Whether the final classifier is re-fitted is decided again once labels arrive (out of fold, on the labelled
     * photos), and an update with nothing new after it comes to the same decision: it keeps everything.
     */
    @Test
    void theReFitIsDecidedAgainWhenLabelsArrive() throws Exception {
        Path a = Fixtures.persona(tmp.resolve("a"), new int[] {0, 1, 2}, 0, 90, 10, 6);
        Path b = tmp.resolve("b");
        addPhotos(a, b, "");
        addPhotos(Fixtures.persona(tmp.resolve("later"), new int[] {0, 1, 2}, 8, 0, 0, 7), b, "n");
        Path memo = tmp.resolve("memo");
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            Path first;
            try (PersonalisePipeline.Outcome o = PersonalisePipeline.run(bb, Fixtures.load(bb, a),
                    config(memo).optRefitChecked(true).optLabels(LabelRegime.NONE).build(), options(),
                    PersonalisationJob.SILENT, () -> false)) {
                assertNull(o.result().refitChoice(), "no labels: nothing to re-fit on");
                first = BundleWriter.write(tmp.resolve("first"), bb, o.result(), o.evaluation(), o.choice());
            }
            Path second;
            String choice;
            boolean refitted;
            try (PersonalisePipeline.Outcome o = PersonalisePipeline.run(bb, Fixtures.load(bb, b),
                    config(memo).optRefitChecked(true).optResume(ResumeState.read(first)).build(), options(),
                    PersonalisationJob.SILENT, () -> false)) {
                choice = o.result().refitChoice();
                assertNotNull(choice, "24 labels arrived: the re-fit is checked");
                refitted = o.result().finalHead() != null;
                assertEquals(choice.startsWith("re-fitted"), refitted, choice);
                second = BundleWriter.write(tmp.resolve("second"), bb, o.result(), o.evaluation(), o.choice());
            }
            try (PersonalisePipeline.Outcome o = PersonalisePipeline.run(bb, Fixtures.load(bb, b),
                    config(memo).optRefitChecked(true).optResume(ResumeState.read(second)).build(), options(),
                    PersonalisationJob.SILENT, () -> false)) {
                assertFalse(o.result().resumed().trained(), o.result().resumed().notes().toString());
                // the same labelled photos: the earlier answer, not a second check
                // with the earlier check's figures, not the name of a folder
                assertEquals(choice + PersonalisationJob.SAME_LABELS, o.result().refitChoice());
                assertEquals(refitted, o.result().finalHead() != null);
            }
        }
    }

    /**
     * An update of an update keeps the first check's figures once; a state written before the reason was kept, or a
     * reason for the other choice, gives the plain sentence.
     */
    @Test
    void anUpdateTakesTheEarlierChecksReasonOverOnce() {
        String why = "the backbone's classifier kept: out of fold on 60 labelled photos (4 folds), class-balanced "
                + "0.550 re-fitted vs 0.750 the backbone's classifier";
        String once = PersonalisationJob.inheritedRefitChoice(false, why);
        assertEquals(why + PersonalisationJob.SAME_LABELS, once);
        assertEquals(once, PersonalisationJob.inheritedRefitChoice(false, once));
        String plain = PersonalisationJob.inheritedRefitChoice(false, null);
        assertEquals("the backbone's classifier kept: as by the run this one updates, on the same labelled photos",
                plain);
        assertEquals(plain, PersonalisationJob.inheritedRefitChoice(false, plain), "no phrase twice");
        assertTrue(PersonalisationJob.inheritedRefitChoice(true, why).startsWith("re-fitted: as by the run"));
        String unchecked = "re-fitted (not validated: 1 labelled photo(s) or no validation folds)";
        assertEquals(unchecked + PersonalisationJob.SAME_LABELS, PersonalisationJob.inheritedRefitChoice(true, unchecked),
                "no check claimed where none ran");
    }

    /**
     * A run whose out-of-fold check kept the backbone's classifier passes the check's fold heads on, and the next
     * update's check carries on from them (an update's few steps) instead of fitting four fresh heads: the update
     * where labels first tip the check cost 30 % of a run from scratch in the replay bench, the others 21-25 %.
     */
    @Test
    void anUpdateAfterAKeptClassifierCarriesTheChecksFoldsOn() throws Exception {
        // the grainy capture of PersonalisationJobTest: four labels per class, the re-fit loses out of fold
        Path a = Fixtures.persona(tmp.resolve("a"), new int[] {0, 1, 2}, 4, 30, 10, 1, 0.3, 0.35);
        Path b = tmp.resolve("b");
        addPhotos(a, b, "");
        addPhotos(Fixtures.persona(tmp.resolve("later"), new int[] {0, 1, 2}, 4, 10, 0, 2, 0.3, 0.35), b, "n");
        Path memo = tmp.resolve("memo");
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            Path first;
            try (PersonalisePipeline.Outcome o = PersonalisePipeline.run(bb, Fixtures.load(bb, a),
                    config(memo).optRefitChecked(true).build(), options(), PersonalisationJob.SILENT, () -> false)) {
                assertTrue(o.result().refitChoice().startsWith("the backbone's classifier kept"),
                        o.result().refitChoice());
                first = BundleWriter.write(tmp.resolve("first"), bb, o.result(), o.evaluation(), o.choice());
            }
            ResumeState state = ResumeState.read(first);
            for (int f = 0; f < 4; f++) {
                assertNotNull(state.foldWeights(PersonalisationResult.FINAL_KEY, f), "the check's fold " + f);
            }
            assertNull(state.finalDeployedWeights(), "kept: no re-fitted final exit is deployed");
            List<String> phases = new java.util.ArrayList<>();
            PersonalisationJob.Listener listen = new PersonalisationJob.Listener() {
                @Override
                public void onPhase(PersonalisationJob.Phase phase, String message) {
                    phases.add(message);
                }
            };
            try (PersonalisePipeline.Outcome o = PersonalisePipeline.run(bb, Fixtures.load(bb, b),
                    config(memo).optRefitChecked(true).optResume(state).build(), options(), listen, () -> false)) {
                assertTrue(phases.stream().anyMatch(m -> m.startsWith("Re-fit the final exit or keep the backbone's? "
                        + "4 folds of 24 labelled photos, carried on from the last run's folds")), phases.toString());
                assertTrue(o.result().resumed().notes().stream().anyMatch(n -> n.contains("carried on")),
                        o.result().resumed().notes().toString());
                if (o.result().finalHead() != null) {
                    // re-fitted this time: the deployed final exit is the check's folds' mean (the cross-fitting took
                    // those heads), with no head fitted on its own first
                    assertTrue(phases.stream().anyMatch(m -> m.equals("The final exit is the mean of the re-fit "
                            + "check's folds")), phases.toString());
                }
            }
        }
    }

    /**
     * A first run with no labels infers its classes from the teacher; once new photos come labelled, the label space
     * is the labelled classes (as from scratch), and the heads keep those classes' rows of the earlier weights.
     */
    @Test
    void labelsAfterARunWithoutThemNarrowTheClassesAndTheHeadsKeepTheirRows() throws Exception {
        Path a = Fixtures.persona(tmp.resolve("a"), new int[] {0, 1, 2}, 0, 90, 10, 6);
        Path b = tmp.resolve("b");
        addPhotos(a, b, "");
        addPhotos(Fixtures.persona(tmp.resolve("later"), new int[] {0, 2}, 8, 0, 0, 7), b, "n");
        Path memo = tmp.resolve("memo");
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            Path bundle;
            try (PersonalisePipeline.Outcome first = PersonalisePipeline.run(bb, Fixtures.load(bb, a),
                    config(memo).optLabels(LabelRegime.NONE).build(), options(), PersonalisationJob.SILENT,
                    () -> false)) {
                assertEquals(3, first.result().labelSpace().size(), first.result().labelSpace().names().toString());
                bundle = BundleWriter.write(tmp.resolve("bundle"), bb, first.result(), first.evaluation(),
                        first.choice());
            }
            ResumeState state = ResumeState.read(bundle);
            try (PersonalisationResult r = new PersonalisationJob(bb, Fixtures.load(bb, b), config(memo)
                    .optResume(state).optEpochs(1).optLearningRate(1e-7f).build())
                    .run(PersonalisationJob.SILENT, () -> false)) {
                assertTrue(r.resumed().warm(), r.resumed().notes().toString());
                List<String> names = r.labelSpace().names();
                assertEquals(2, names.size(), names.toString());
                // the earlier folds are carried on (the final exit's start fresh: the first run had none), and the
                // run deploys their mean: the rows of the earlier deployed mean
                assertTrue(r.resumed().notes().stream().anyMatch(n -> n.contains("carried on")),
                        r.resumed().notes().toString());
                for (ExitHead h : r.heads()) {
                    float[][] w = state.deployedWeights(h.key());
                    int in = w[0].length / 3;
                    for (int k = 0; k < 2; k++) {
                        int row = state.labelSpace().indexOf(names.get(k));
                        assertArrayEquals(java.util.Arrays.copyOfRange(w[0], row * in, (row + 1) * in),
                                java.util.Arrays.copyOfRange(h.linear()[0], k * in, (k + 1) * in), 1e-4f,
                                h.key() + " keeps the row of " + names.get(k));
                    }
                }
            }
        }
    }

    @Test
    void aNewLabelledClassMakesTheHeadsStartFresh() throws Exception {
        Path a = Fixtures.persona(tmp.resolve("a"), new int[] {0, 1}, 8, 40, 10, 3);
        Path b = tmp.resolve("b");
        addPhotos(a, b, "");
        addPhotos(Fixtures.persona(tmp.resolve("boots"), new int[] {2}, 8, 0, 10, 4), b, "n");
        try (Backbone bb = BackboneIO.load(Fixtures.trainedBackbone())) {
            Path bundle;
            try (PersonalisePipeline.Outcome first = PersonalisePipeline.run(bb, Fixtures.load(bb, a),
                    config(null).build(), options(), PersonalisationJob.SILENT, () -> false)) {
                bundle = BundleWriter.write(tmp.resolve("bundle"), bb, first.result(), first.evaluation(),
                        first.choice());
            }
            ResumeState state = ResumeState.read(bundle);
            try (PersonalisationResult r = new PersonalisationJob(bb, Fixtures.load(bb, b), config(null)
                    .optResume(state).build()).run(PersonalisationJob.SILENT, () -> false)) {
                assertFalse(r.resumed().warm());
                assertTrue(r.resumed().notes().stream().anyMatch(n -> n.contains("is new since")),
                        r.resumed().notes().toString());
                assertEquals(3, r.labelSpace().size(), "the new class is in the label space");
            }
        }
    }
}
