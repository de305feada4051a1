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
        c.exits().openBackbone(BACKBONE);
        assertNotNull(model.backbone().get(), model.status().get());
        assertEquals(9, model.backbone().get().stages().size());

        c.exits().autoPlace();
        assertEquals(8, model.exits().size(), "a grid head after every stage but the last");
        assertTrue(c.exits().addExit("block9", HeadType.LINEAR).isPresent(), "no such stage: refused with a reason");
        c.exits().removeExit(model.exits().get(0));
        assertEquals(7, model.exits().size());

        c.data().importPaths(List.of(PERSONA));
        assertEquals(780, model.images().size(), model.status().get());
        // partly labelled data keeps the regime the user chose; data with no labels switches to none
        assertEquals(LabelRegime.ALL, model.labels().get());

        WorkspaceState s = c.snapshot();
        assertEquals(7, s.exits.size());
        assertEquals(780, s.images.size());
        assertEquals(BACKBONE.toAbsolutePath().normalize(), Path.of(s.backbone).normalize());
        assertTrue(c.run().cannotStart().isEmpty(), "ready to personalise: " + c.run().cannotStart());
        c.shutdown();
    }

    @Test
    void theStagesAreTimedOnceTheLabHasSettledAndNeverOnABackboneReplacedMeanwhile() {
        LabModel model = new LabModel();
        LabController c = new LabController(model, LabTasks.sameThread(), null);
        List<Runnable> held = new java.util.ArrayList<>();
        c.exits().measureWhen(held::add);
        c.exits().openBackbone(BACKBONE);
        // shown at once, without times; the graph and the status say they are coming
        assertNotNull(model.backbone().get(), model.status().get());
        assertEquals(null, model.stageProfile().get());
        assertTrue(model.status().get().contains("timing its stages"), model.status().get());
        assertEquals(1, held.size());

        // a second backbone opened before the first is timed: the first's timing is skipped (it is closed by then)
        var first = model.backbone().get();
        c.exits().openBackbone(BACKBONE);
        assertTrue(model.backbone().get() != first);
        held.get(0).run();
        assertEquals(null, model.stageProfile().get(), "no times for a backbone no longer shown");
        assertTrue(model.errors().isEmpty(), "skipped quietly: " + model.errors());

        held.get(1).run();
        assertNotNull(model.stageProfile().get());
        assertTrue(model.stageProfile().get().stageMs().keySet().containsAll(
                model.backbone().get().stages().stream().map(st -> st.name()).toList()));
        assertTrue(model.status().get().matches("Opened .*: 9 stages, \\d+\\.\\d ms per image here"),
                model.status().get());
        c.shutdown();
    }

    @Test
    void aRunItsThresholdsAndAnExportWithoutTheToolkit(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        LabModel model = new LabModel();
        LabController c = new LabController(model, LabTasks.sameThread(), null);
        c.exits().openBackbone(BACKBONE);
        c.exits().addExit("block3", HeadType.GRID);
        c.exits().addExit("block6", HeadType.GRID);
        c.data().importPaths(List.of(PERSONA));
        model.epochs().set(2);
        assertTrue(!c.run().hasResults(), "nothing to export before a run");

        // labels and test marks go through the data feature
        ImageItem first = model.images().get(0);
        c.data().relabel(List.of(first), "  COAT ");
        assertEquals("Coat", first.label(), "a label is the backbone's class name, whatever its case");
        c.data().markTest(List.of(first), true);
        assertTrue(first.test());

        c.run().start();
        assertTrue(!model.running().get(), model.status().get());
        assertTrue(c.run().hasResults(), model.status().get());
        assertTrue(model.status().get().startsWith("Done") || model.status().get().startsWith("Warning"),
                model.status().get());
        // the operating point's thresholds are adopted, and the cascade shown is the one they give
        var shown = model.current().get();
        assertNotNull(shown);
        int on = (int) model.exits().stream().filter(e -> e.threshold() <= 1.0).count();
        assertEquals(shown.exits().length, on, "an exit with a threshold is an exit of the cascade shown");
        assertTrue(!model.curvesStale().get());
        // the status line says what the operating point is (not which search found it)
        String shape = RunSummary.shape(shown, model.evaluation().get().exitNames());
        assertTrue(model.status().get().contains(shape), shape + " in: " + model.status().get());
        assertTrue(shape.matches("final exit only|block[36]:grid alone|\\d exits? at threshold [01]\\.\\d\\d|2 exits, "
                + "per-exit thresholds"), shape);

        c.curves().setGlobalThreshold(0.5);
        assertTrue(model.exits().stream().allMatch(e -> e.threshold() == 0.5));
        assertEquals(2, model.current().get().exits().length, "both exits take part at one global threshold");

        c.exits().removeExit(model.exits().get(0));
        assertTrue(model.curvesStale().get(), "curves of two exits no longer match the one exit placed");

        // what-if: the same run costed with a device profile ten times slower per stage
        double before = model.current().get().meanMs();
        StringBuilder json = new StringBuilder("{\"device\": \"slow phone\", \"stages\": {");
        model.stageProfile().get().stageMs().forEach((k, v) -> json.append('"').append(k).append("\": ")
                .append(10 * v).append(", "));
        json.setLength(json.length() - 2);
        json.append("}}");
        Path device = tmp.resolve("device.json");
        java.nio.file.Files.writeString(device, json);
        c.run().useDeviceProfile(device);
        assertEquals("device profile: slow phone", model.evaluation().get().profile().source(), model.status().get());
        assertEquals(10 * model.stageProfile().get().backboneMs(), model.evaluation().get().profile().backboneMs(),
                1e-6, "the device's stage times");
        double after = model.current().get().meanMs();
        // heads the profile does not time are estimated from their MACs at the device's ms per MAC
        assertTrue(after > 5 * before, before + " ms here, " + after + " ms on the device");
        java.nio.file.Files.writeString(tmp.resolve("broken.json"), "{\"stages\": {}}");
        c.run().useDeviceProfile(tmp.resolve("broken.json"));
        assertTrue(model.errors().get(model.errors().size() - 1).contains("no time for stage"),
                model.errors().toString());
        assertEquals("device profile: slow phone", model.evaluation().get().profile().source(),
                "a broken profile leaves the curves as they were");

        // compare label regimes: none, about 10 % and all, one after the other; the first two stay drawn
        c.exits().addExit("block3", HeadType.GRID);
        HistoryModel h = c.history().model();
        c.history().compareLabelRegimes();
        assertTrue(!h.comparing().get() && !model.running().get(), model.status().get());
        List<String> names = h.comparison().stream().map(HistoryModel.Overlay::name).toList();
        assertEquals(2, names.size(), names.toString());
        assertEquals("labels none", names.get(0));
        // 459 training photos, 59 labelled: about 10 % is 46, kept per class (rounded up within each class)
        int some = Integer.parseInt(names.get(1).replaceAll("\\D", ""));
        assertTrue(names.get(1).startsWith("labels some (") && some >= 44 && some <= 50, names.get(1));
        assertEquals(LabelRegime.ALL, model.labels().get(), "the person's own choice comes back");
        // the review tab's accuracy chart places each regime's run at the labels it used (all three were at 59)
        List<ReviewModel.Point> points = c.review().model().history();
        List<Integer> used = points.subList(points.size() - 3, points.size()).stream().map(ReviewModel.Point::labels)
                .toList();
        assertEquals(List.of(0, some, 59), used, "labels each regime's run used");
        // and says, image by image on the same test photos, whether the regimes differ by more than noise
        String verdict = h.regimesText().get();
        assertTrue(verdict.startsWith("Label regimes against all (") && verdict.contains("on the same ")
                && verdict.contains("none ") && verdict.contains("some (") && verdict.contains("McNemar p"), verdict);
        assertTrue(model.status().get().contains("personal"), "the last run is the one with every label: "
                + model.status().get());

        Path out = tmp.resolve("bundle");
        c.export().export(out);
        assertTrue(java.nio.file.Files.isRegularFile(out.resolve("exit-config.json")), model.status().get());

        // the same thresholds for PyTorch Mobile, checked against this runtime on the person's test photos
        if (java.nio.file.Files.isExecutable(Path.of("/usr/bin/python3"))) {
            Path ts = tmp.resolve("torchscript");
            java.util.List<String> notes = new java.util.ArrayList<>();
            c.export().setNotifier(notes::add);
            c.export().exportTorchScript(ts);
            assertTrue(java.nio.file.Files.isRegularFile(ts.resolve("model.ptl")), model.errors().toString());
            assertTrue(model.status().get().startsWith("Exported model.pt and model.ptl"), model.status().get());
            assertEquals(1, notes.size(), notes.toString());
            assertTrue(notes.get(0).contains("decisions the same") && notes.get(0).contains("DJL's libtorch"),
                    "the notification gives the parity in both runtimes: " + notes.get(0));
        }
        c.shutdown();
    }

    @Test
    void newPhotosUpdateTheLastRunInsteadOfStartingOver(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        // the person's photos so far: tilted-phone without 100 of its unlabelled photos, which arrive later
        Path now = tmp.resolve("tilted-phone");
        Path later = tmp.resolve("later");
        java.nio.file.Files.createDirectories(later);
        try (var files = java.nio.file.Files.walk(PERSONA)) {
            for (Path f : files.filter(java.nio.file.Files::isRegularFile).toList()) {
                Path rel = PERSONA.relativize(f);
                boolean held = rel.startsWith("unlabelled") && rel.getFileName().toString().compareTo("photo_0100") < 0;
                Path to = held ? later.resolve(rel.getFileName()) : now.resolve(rel);
                java.nio.file.Files.createDirectories(to.getParent());
                java.nio.file.Files.copy(f, to);
            }
        }
        LabModel model = new LabModel();
        LabController c = new LabController(model, LabTasks.sameThread(),
                new org.persephonee.core.workspace.WorkspaceStore(tmp.resolve("ws")));
        c.exits().openBackbone(BACKBONE);
        c.exits().addExit("block3", HeadType.GRID);
        c.exits().addExit("block6", HeadType.GRID);
        c.data().importPaths(List.of(now));
        model.epochs().set(2);
        c.run().start();
        assertTrue(model.status().get().contains("personal") && !model.status().get().contains("Updated"),
                "the first run starts from scratch: " + model.status().get());
        assertEquals(1, c.history().model().runs().size());

        c.data().importPaths(List.of(later));
        c.run().start();
        assertTrue(model.status().get().contains("Updated the last run (the backbone ran on 100 new photo(s))"),
                model.status().get());
        var runs = c.history().model().runs();
        assertEquals(2, runs.size());
        assertTrue(runs.get(0).record().update && !runs.get(1).record().update, "the timeline tells them apart");
        assertEquals(runs.get(1).record().photos + 100, runs.get(0).record().photos);
        assertTrue(runs.get(0).record().seconds < runs.get(1).record().seconds,
                runs.get(0).record().seconds + " s for the update, " + runs.get(1).record().seconds + " s first");

        // a second click with nothing new keeps the heads: the same figures, said first on the status line
        double updated = runs.get(0).record().accuracy;
        c.run().start();
        assertTrue(model.status().get().startsWith("Nothing new since the last run"), model.status().get());
        assertEquals(3, runs.size());
        assertEquals(updated, runs.get(0).record().accuracy, 1e-12);

        // comparing label regimes runs every regime from scratch (an update would start the run without labels
        // from heads trained with them)
        c.history().compareLabelRegimes();
        assertEquals(6, runs.size(), model.status().get());
        assertTrue(runs.subList(0, 3).stream().noneMatch(e -> e.record().update), "the comparison's runs");

        // switched off: from scratch again (BatchNorm statistics re-estimated on every photo: new features)
        model.updateLastRun().set(false);
        c.run().start();
        assertTrue(!model.status().get().contains("Updated"), model.status().get());
        assertTrue(!c.history().model().runs().get(0).record().update);
        c.shutdown();
    }

    @Test
    void withoutLabelsTheGuessedClassesAreNamedAndThePersonsOwnTakeTheirPlace() {
        LabModel model = new LabModel();
        LabController c = new LabController(model, LabTasks.sameThread(), null);
        c.exits().openBackbone(BACKBONE);
        c.exits().addExit("block6", HeadType.GRID);
        c.data().importPaths(List.of(Path.of("..", "sample-data", "night-owl")));
        model.labels().set(LabelRegime.NONE);
        model.epochs().set(2);
        model.updateLastRun().set(false);

        c.run().start();
        assertTrue(c.run().hasResults(), model.status().get());
        int guessed = model.labelSpace().get().size();
        assertTrue(model.status().get().contains("Classes guessed without labels (" + guessed + ": "
                + String.join(", ", model.labelSpace().get()) + ")"), model.status().get());
        assertTrue(model.status().get().contains("name them in Settings, Person's classes"), model.status().get());
        assertTrue(model.labelSpaceGuessed().get());
        String note = SidePanel.classesNote(model.labelSpace().get(), true, model.classes().get(), List.of());
        assertTrue(note.startsWith("The last run guessed " + guessed + " classes without labels: "
                + String.join(", ", model.labelSpace().get())), note);
        String left = SidePanel.classesNote(List.of("Pullover", "Coat", "Ankle boot"), true, "",
                List.of("Shirt (the top guess for 76 of 460 photos, sure of 1)"));
        assertTrue(left.contains("It left out Shirt (the top guess for 76 of 460 photos, sure of 1): the backbone was "
                + "seldom sure.") && left.endsWith("name them in Person's classes below."), left);

        model.classes().set("t-shirt_top, trouser, dress, sneaker, bag");
        c.run().start();
        assertEquals(List.of("T-shirt/top", "Trouser", "Dress", "Sneaker", "Bag"), model.labelSpace().get(),
                model.status().get());
        assertTrue(!model.status().get().contains("guessed"), model.status().get());
        assertTrue(!model.labelSpaceGuessed().get());
        assertEquals("", SidePanel.classesNote(model.labelSpace().get(), model.labelSpaceGuessed().get(),
                model.classes().get(), List.of()), "nothing to say once the classes are named");

        model.classes().set("Trouser, Beanie");
        c.run().start();
        assertTrue(model.errors().get(model.errors().size() - 1).contains("'Beanie' is not one of the backbone's"),
                model.errors().toString());
        assertEquals(List.of("T-shirt/top", "Trouser", "Dress", "Sneaker", "Bag"), model.labelSpace().get(),
                "the last run's results stay");
        c.shutdown();
    }

    @Test
    void aFewLabelsThatWouldSpoilTheFinalExitLeaveTheBackbonesClassifierAndTheSidePanelSaysWhy() {
        LabModel model = new LabModel();
        LabController c = new LabController(model, LabTasks.sameThread(), null);
        c.exits().openBackbone(BACKBONE);
        c.exits().addExit("block6", HeadType.GRID);
        c.data().importPaths(List.of(Path.of("..", "sample-data", "tilted-phone")));
        // two labels per class: re-fitted on them, tilted-phone's final exit forgets what the shipped one knew
        model.labels().set(LabelRegime.parse("0.1"));
        model.epochs().set(2);
        model.updateLastRun().set(false);

        c.run().start();
        assertTrue(c.run().hasResults(), model.status().get());
        String choice = model.refitChoice().get();
        assertTrue(choice != null && choice.startsWith("the backbone's classifier kept: out of fold on 8 labelled"),
                choice);
        String note = SidePanel.finalNote(choice);
        assertTrue(note.startsWith("The last run kept the backbone's classifier as the final exit: re-fitted on the "
                + "labels it was worse out of fold on 8 labelled photos"), note);

        model.finalRefit().set(org.persephonee.core.personalise.FinalRefit.ALWAYS);
        c.run().start();
        assertEquals(null, model.refitChoice().get(), "always re-fit, as in the paper: nothing was checked");
        assertEquals("", SidePanel.finalNote(model.refitChoice().get()));

        model.finalRefit().set(org.persephonee.core.personalise.FinalRefit.CHECKED);
        model.labels().set(LabelRegime.NONE);
        c.run().start();
        assertEquals(null, model.refitChoice().get(), "no labels: nothing was checked");
        assertEquals("", SidePanel.finalNote(model.refitChoice().get()));
        c.shutdown();
    }
}
