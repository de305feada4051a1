package org.persephonee.views;

import javafx.scene.input.KeyCode;
import javafx.stage.Stage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.persephonee.core.data.LabelsCsv;
import org.persephonee.core.exits.HeadType;
import org.persephonee.core.workspace.WorkspaceState;
import org.persephonee.core.workspace.WorkspaceStore;
import org.testfx.api.FxRobot;
import org.testfx.framework.junit5.ApplicationExtension;
import org.testfx.framework.junit5.Start;
import org.testfx.util.WaitForAsyncUtils;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Review tab driven by its keys on a person without a single label (60 unlabelled night-owl photos, 8 test photos
 * per class): number keys, Enter, Backspace and Left; a re-fit in the background after three labels with the window
 * responsive; the reviewed labels in the workspace file and in a written labels.csv.
 */
@ExtendWith(ApplicationExtension.class)
class ReviewUiTest {
    static Path tmp;
    static Path persona;

    LabModel model;
    LabController controller;
    LabView view;
    WorkspaceStore store;
    ExecutorService engine;
    ExecutorService io;

    @BeforeAll
    static void data() throws IOException {
        tmp = Files.createTempDirectory("review-ui");
        persona = tmp.resolve("persona");
        LabUiTest.copySample(LabUiTest.REPO.resolve("sample-data/night-owl"), persona, 0, 8, 60);
    }

    @Start
    void start(Stage stage) throws IOException {
        model = new LabModel();
        engine = Executors.newSingleThreadExecutor();
        io = Executors.newSingleThreadExecutor();
        store = new WorkspaceStore(Files.createTempDirectory(tmp, "ws"));
        controller = new LabController(model, engine, io, store);
        view = new LabView(model, controller);
        javafx.scene.Parent root = view.build();
        view.started();
        LabUiTest.show(stage, root);
        controller.restore(new WorkspaceState(), LabUiTest.BACKBONE, persona);
    }

    @AfterEach
    void stop() throws Exception {
        WaitForAsyncUtils.asyncFx(controller.run()::cancel).get(10, TimeUnit.SECONDS);
        engine.shutdown();
        engine.awaitTermination(60, TimeUnit.SECONDS);
        controller.shutdown();
    }

    private static void waitFor(int seconds, java.util.concurrent.Callable<Boolean> condition) throws Exception {
        WaitForAsyncUtils.waitFor(seconds, TimeUnit.SECONDS, condition);
        WaitForAsyncUtils.waitForFxEvents();
    }

    @Test
    void keysLabelSkipAndGoBackAndTheExitsRefitInTheBackground(FxRobot robot) throws Exception {
        waitFor(90, () -> model.backbone().get() != null && model.images().size() == 100);
        robot.interact(() -> {
            controller.exits().addExit("block3", HeadType.GRID);
            controller.exits().addExit("block6", HeadType.GRID);
            model.epochs().set(2);
            controller.run().start();
        });
        ReviewModel review = controller.review().model();
        waitFor(120, () -> !model.running().get() && review.history().size() == 1);
        robot.clickOn("Review");
        waitFor(10, () -> robot.lookup("#review-photo").tryQuery().isPresent() && review.current() != null);
        assertEquals(60, review.queue().size(), "every training photo is unlabelled and queued");
        robot.interact(() -> review.refitEvery().set(3));

        ReviewModel.Item first = review.current();
        String second = review.choices().get(1);
        robot.type(KeyCode.DIGIT2);
        assertEquals(second, first.image().label(), "key 2 picks the second class");
        assertTrue(first.image().reviewed());
        assertEquals(1, review.position().get());

        ReviewModel.Item next = review.current();
        String guess = next.guesses().get(0).label();
        robot.type(KeyCode.ENTER);
        if (next.guesses().get(0).confidence() < ReviewController.SURE_ENOUGH) {
            // an unsure guess asks for a second press (tested on its own below)
            robot.type(KeyCode.ENTER);
        }
        assertEquals(guess, next.image().label(), "Enter takes the first guess");

        ReviewModel.Item skipped = review.current();
        robot.type(KeyCode.BACK_SPACE);
        assertNull(skipped.image().label(), "Backspace leaves it unlabelled");
        assertEquals(3, review.position().get());
        robot.type(KeyCode.LEFT);
        assertEquals(skipped, review.current(), "Left goes back to it");
        assertEquals(2, review.sinceRefit().get());

        // the third label starts a re-fit in the background; the window keeps drawing while it runs
        robot.interact(() -> view.probe().reset());
        robot.type(KeyCode.DIGIT1);
        assertEquals(review.choices().get(0), skipped.image().label());
        waitFor(10, () -> model.running().get() || review.history().size() == 2);
        for (int k = 0; k < 5; k++) {
            robot.type(KeyCode.BACK_SPACE);
        }
        waitFor(120, () -> !model.running().get() && review.history().size() == 2);
        robot.interact(() -> view.probe().freeze());
        assertTrue(model.longestStallMs().get() < 1000, "the FX thread stalled " + model.longestStallMs().get()
                + " ms during the re-fit");
        assertEquals(3, review.history().get(1).reviewed(), "the re-fit had the three reviewed labels");
        assertEquals(40, review.history().get(1).images(), "measured on the 40 test photos: the chart's interval");
        assertEquals("Review", view.tabs().getSelectionModel().getSelectedItem().getText(),
                "the re-fit's end leaves the person on the queue");
        assertEquals(57, review.queue().size(), "the new queue holds the photos still unlabelled");
        assertTrue(review.queue().stream().allMatch(i -> i.image().label() == null));

        // both runs are kept in the workspace's history; the first one's cascade can be drawn over the curves
        HistoryModel h = controller.history().model();
        waitFor(30, () -> h.runs().size() == 2);
        assertEquals(2, h.runs().get(0).number(), "newest first");
        assertEquals(3, h.runs().get(0).record().labelsUsed);
        assertEquals(0, h.runs().get(1).record().labelsUsed, "the first run had no label");
        org.jfree.chart.fx.ChartViewer timeline = robot.lookup("#review-timeline").queryAs(
                org.jfree.chart.fx.ChartViewer.class);
        waitFor(10, () -> timeline.getChart().getXYPlot().getDomainAxis().getRange()
                .equals(new org.jfree.data.Range(0.5, 4.5)));
        robot.interact(() -> controller.history().overlay(h.runs().get(1)));
        waitFor(30, () -> h.overlay().get() != null);
        assertTrue(view.curvesPane().dataset().getSeriesIndex("run 1 (cascade)") >= 0,
                "the earlier run's cascade is one of the chart's series");
        String verdict = h.comparisonText().get();
        assertTrue(verdict.startsWith("Run 2 against run 1: ") && verdict.contains("on the same 40 test images")
                && verdict.contains("McNemar p"), "the newest run against the one drawn, image by image: " + verdict);
        robot.interact(() -> controller.history().overlay(null));
        assertEquals("", h.comparisonText().get(), "nothing drawn, nothing compared");

        // the reviewed labels are in the workspace file on disk, saved without an orderly shutdown
        waitFor(20, () -> {
            WorkspaceState s = new WorkspaceStore(store.dir()).load().state();
            return s.images.stream().filter(i -> i.reviewed).count() == 3;
        });
        WorkspaceState saved = new WorkspaceStore(store.dir()).load().state();
        WorkspaceState.Image firstSaved = saved.images.stream()
                .filter(i -> Path.of(i.path).equals(first.image().path())).findFirst().orElseThrow();
        assertEquals(second, firstSaved.label);

        Path csv = persona.resolve("labels.csv");
        robot.interact(() -> controller.data().writeLabels(csv));
        waitFor(10, () -> Files.isRegularFile(csv));
        List<LabelsCsv.Row> rows = LabelsCsv.read(csv);
        assertEquals(3, rows.size(), "the three labelled training photos");
        assertNotNull(rows.stream().filter(r -> persona.resolve(r.path()).normalize()
                .equals(first.image().path().normalize())).findFirst().orElse(null), "paths relative to the file");
        assertNotEquals(0, review.choices().size());

        // a restart brings the queue back with the run kept in the workspace (no new run needed)
        waitFor(60, () -> controller.snapshot().lastRun != null);
        WorkspaceState kept = controller.snapshot();
        LabModel model2 = new LabModel();
        LabController c2 = new LabController(model2, engine, io, new WorkspaceStore(store.dir()));
        robot.interact(() -> c2.restore(kept, null, null));
        ReviewModel review2 = c2.review().model();
        waitFor(90, () -> model2.evaluation().get() != null && !review2.queue().isEmpty());
        assertEquals(review.queue().size(), review2.queue().size(), "the same photos still to review");
        assertEquals(review.queue().get(0).image().path(), review2.queue().get(0).image().path(), "in the same order");
        assertEquals(3, model2.images().stream().filter(ImageItem::reviewed).count(), "the reviewed marks came back");
        assertEquals(1, review2.history().size(), "the accuracy chart starts from the kept run, not empty");
        assertEquals(3, review2.history().get(0).labels());
        assertEquals(40, review2.history().get(0).images());
        waitFor(30, () -> c2.history().model().runs().size() == 2);
        c2.shutdown();

        // Enter on a guess the exits are unsure of asks once more before it labels the photo
        int unsure = -1;
        for (int i = 0; i < review.queue().size() && unsure < 0; i++) {
            if (review.queue().get(i).guesses().get(0).confidence() < ReviewController.SURE_ENOUGH) {
                unsure = i;
            }
        }
        assertTrue(unsure >= 0, "after a run with three labels some first guesses are below " + ReviewController.SURE_ENOUGH);
        int at = unsure;
        robot.interact(() -> review.position().set(at));
        ReviewModel.Item doubt = review.current();
        String queueMessage = review.message().get();
        robot.type(KeyCode.ENTER);
        assertNull(doubt.image().label(), "one Enter does not take an unsure guess");
        assertTrue(review.message().get().contains("Press Enter again"), review.message().get());
        robot.type(KeyCode.ENTER);
        assertEquals(doubt.guesses().get(0).label(), doubt.image().label(), "a second Enter does");
        assertEquals(queueMessage, review.message().get(), "the queue's message is back once answered");
    }
}
