package org.persephonee.views;

import javafx.scene.Scene;
import javafx.scene.control.ComboBox;
import javafx.scene.control.Label;
import javafx.scene.control.Slider;
import javafx.scene.input.ClipboardContent;
import javafx.scene.input.Dragboard;
import javafx.scene.input.TransferMode;
import javafx.scene.layout.BorderPane;
import javafx.stage.Stage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.persephonee.core.runtime.EarlyExitModel;
import org.persephonee.core.workspace.WorkspaceState;
import org.persephonee.core.workspace.WorkspaceStore;
import org.testfx.api.FxRobot;
import org.testfx.framework.junit5.ApplicationExtension;
import org.testfx.framework.junit5.Start;
import org.testfx.util.WaitForAsyncUtils;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Drives the real lab UI headless: drag-and-drop, import, personalise, cancel, curves, threshold, export. */
@ExtendWith(ApplicationExtension.class)
class LabUiTest {
    static final Path REPO = Path.of("..").toAbsolutePath().normalize();
    static final Path BACKBONE = REPO.resolve("sample-models/fmnist-resnet9");
    static Path persona;
    static Path tmp;

    LabModel model;
    LabController controller;
    WorkspaceStore store;
    LabView view;
    ExecutorService engine;
    ExecutorService io;
    Label fileSource;

    /** A small persona copied from the committed tilted-phone sample: 6 labelled/class, 24 unlabelled, 8 test/class. */
    @BeforeAll
    static void data() throws IOException {
        tmp = Files.createTempDirectory("lab-ui");
        persona = tmp.resolve("persona");
        copySample(REPO.resolve("sample-data/tilted-phone"), persona, 6, 8, 24);
    }

    /** Copies the first files (by name) of a committed sample persona: per class labelled and test, then unlabelled. */
    static void copySample(Path src, Path dst, int labelledPerClass, int testPerClass, int unlabelled)
            throws IOException {
        for (String split : List.of("labelled", "test")) {
            int n = split.equals("labelled") ? labelledPerClass : testPerClass;
            if (n == 0) {
                continue;
            }
            try (Stream<Path> classes = Files.list(src.resolve(split))) {
                for (Path c : classes.toList()) {
                    try (Stream<Path> files = Files.list(c)) {
                        for (Path f : files.sorted().limit(n).toList()) {
                            Path to = dst.resolve(split).resolve(c.getFileName().toString())
                                    .resolve(f.getFileName().toString());
                            Files.createDirectories(to.getParent());
                            Files.copy(f, to);
                        }
                    }
                }
            }
        }
        Files.createDirectories(dst.resolve("unlabelled"));
        try (Stream<Path> files = Files.list(src.resolve("unlabelled"))) {
            for (Path f : files.sorted().limit(unlabelled).toList()) {
                Files.copy(f, dst.resolve("unlabelled").resolve(f.getFileName().toString()));
            }
        }
    }

    /** Shows a lab's root in the stage as the app does (window size, style sheet). */
    static void show(Stage stage, javafx.scene.Parent root) {
        Scene scene = new Scene(root, 1400, 860);
        scene.getStylesheets().add(LabView.class.getResource("lab.css").toExternalForm());
        stage.setScene(scene);
        stage.show();
    }

    @Start
    void start(Stage stage) throws IOException {
        model = new LabModel();
        engine = Executors.newSingleThreadExecutor();
        io = Executors.newSingleThreadExecutor();
        store = new WorkspaceStore(Files.createTempDirectory(tmp, "ws"));
        controller = new LabController(model, engine, io, store);
        view = new LabView(model, controller);
        BorderPane root = (BorderPane) view.build();
        view.started();
        // a stand-in for the desktop's file manager: a node whose drag carries files
        fileSource = new Label("files");
        fileSource.setId("file-source");
        fileSource.setOnDragDetected(e -> {
            Dragboard db = fileSource.startDragAndDrop(TransferMode.COPY);
            ClipboardContent c = new ClipboardContent();
            c.putFiles(List.of(persona.toFile()));
            db.setContent(c);
            e.consume();
        });
        root.setLeft(fileSource);
        show(stage, root);
        controller.exits().openBackbone(BACKBONE);
    }

    @AfterEach
    void stop() throws Exception {
        WaitForAsyncUtils.asyncFx(controller.run()::cancel).get(10, TimeUnit.SECONDS);
        engine.shutdown();
        engine.awaitTermination(30, TimeUnit.SECONDS);
        controller.shutdown();
    }

    private void waitFor(int seconds, java.util.concurrent.Callable<Boolean> condition) throws Exception {
        WaitForAsyncUtils.waitFor(seconds, TimeUnit.SECONDS, condition);
        WaitForAsyncUtils.waitForFxEvents();
    }

    private void ready(FxRobot robot) throws Exception {
        waitFor(60, () -> model.backbone().get() != null && model.stageProfile().get() != null);
    }

    @Test
    void helpShowsTheEngineSelfCheckVerdictForABugReport(FxRobot robot) throws Exception {
        ready(robot);
        robot.clickOn("Help").clickOn("Engine diagnostics…");
        waitFor(60, () -> robot.lookup("#diagnostics-text").tryQuery().isPresent());
        String text = robot.lookup("#diagnostics-text").queryAs(javafx.scene.control.TextArea.class).getText();
        org.persephonee.core.engine.EngineGuard.Verdict v = org.persephonee.core.engine.EngineGuard.current()
                .orElseThrow();
        assertTrue(text.startsWith("engine self-check: " + v.status().toUpperCase(java.util.Locale.ROOT)), text);
        assertTrue(text.contains("oneDNN cap in force: " + (v.cap() == null ? "none" : v.cap())), text);
        assertTrue(text.contains("CPU:"), text);
        robot.clickOn("Copy to clipboard");
        WaitForAsyncUtils.waitForFxEvents();
        String copied = WaitForAsyncUtils.asyncFx(() -> javafx.scene.input.Clipboard.getSystemClipboard().getString())
                .get(10, TimeUnit.SECONDS);
        assertEquals(text, copied);
        robot.clickOn("OK");
    }

    @Test
    void draggingAHeadOntoAStageAttachesAnExit(FxRobot robot) throws Exception {
        ready(robot);
        robot.drag("#head-conv").dropTo("#stage-block3");
        WaitForAsyncUtils.waitForFxEvents();
        assertEquals(1, model.exits().size());
        assertEquals("block3", model.exits().get(0).stage());
        assertEquals("conv32x1", model.exits().get(0).head().id());
        assertNotNull(robot.lookup("#exit-block3").query(), "the exit is drawn as a branch");

        // the last stage already feeds the final classifier: refused with a reason
        robot.interact(() -> robot.lookup("#stage-scroll").queryAs(javafx.scene.control.ScrollPane.class).setVvalue(1));
        robot.drag("#head-linear").dropTo("#stage-block8");
        WaitForAsyncUtils.waitForFxEvents();
        assertEquals(1, model.exits().size());
        assertTrue(model.status().get().contains("final classifier"), model.status().get());

        // a second head on the same stage is refused too
        robot.interact(() -> robot.lookup("#stage-scroll").queryAs(javafx.scene.control.ScrollPane.class).setVvalue(0));
        robot.drag("#head-mlp").dropTo("#stage-block3");
        WaitForAsyncUtils.waitForFxEvents();
        assertEquals(1, model.exits().size());

        // the editor names head types as the palette does, and switching the type changes the exit
        robot.clickOn("#exit-block3");
        WaitForAsyncUtils.waitForFxEvents();
        @SuppressWarnings("unchecked")
        javafx.scene.control.ComboBox<org.persephonee.core.exits.HeadType> type =
                robot.lookup("#head-type-editor").queryAs(javafx.scene.control.ComboBox.class);
        assertEquals("Conv head", type.getConverter().toString(type.getValue()));
        // the slider's caption names the exit's threshold (it was blank when the slider already had that value)
        assertEquals(String.format(java.util.Locale.ROOT, "threshold: leave when confidence ≥ %.2f",
                model.exits().get(0).threshold()),
                robot.lookup("#exit-threshold-caption").queryAs(javafx.scene.control.Label.class).getText());
        robot.interact(() -> type.getSelectionModel().select(org.persephonee.core.exits.HeadType.GRID));
        WaitForAsyncUtils.waitForFxEvents();
        assertEquals("grid", model.exits().get(0).head().id());

        // select and delete with the keyboard
        robot.clickOn("#exit-block3");
        robot.type(javafx.scene.input.KeyCode.DELETE);
        WaitForAsyncUtils.waitForFxEvents();
        assertTrue(model.exits().isEmpty());
    }

    @Test
    void aTorchScriptStageBundleOpensAndTakesExitsWhileABrokenOneIsExplained(FxRobot robot) throws Exception {
        ready(robot);
        Path good = REPO.resolve("sample-models/fmnist-mobilenetv2-ts");
        // a copy with one stage file missing: a clear message naming the stage, the open backbone stays
        Path broken = Files.createDirectories(tmp.resolve("broken-" + System.nanoTime()));
        try (Stream<Path> files = Files.walk(good)) {
            for (Path f : files.toList()) {
                Path q = broken.resolve(good.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(q);
                } else if (!f.getFileName().toString().startsWith("03-")) {
                    Files.copy(f, q);
                }
            }
        }
        robot.interact(() -> controller.exits().openBackbone(broken));
        waitFor(30, () -> !model.errors().isEmpty());
        assertTrue(model.errors().get(model.errors().size() - 1).contains("stage 'features.3'"), model.errors().toString());
        assertEquals("fmnist-resnet9", model.backbone().get().id());

        // what the side panel says about the last run belongs to that run's backbone
        robot.interact(() -> {
            model.refitChoice().set("the backbone's classifier kept: out of fold on 60 labelled photos (4 folds)");
            model.labelSpace().set(List.of("Bag", "Dress", "Shirt"));
            model.labelSpaceGuessed().set(true);
        });
        assertTrue(robot.lookup("#final-note").query().isVisible());
        robot.interact(() -> controller.exits().openBackbone(good));
        waitFor(60, () -> model.backbone().get().isTorchScript() && model.stageProfile().get() != null
                && model.stageProfile().get().stageMs().containsKey("features.4"));
        assertFalse(robot.lookup("#final-note").query().isVisible(), "the ResNet-9 run's note went with its curves");
        assertFalse(robot.lookup("#classes-note").query().isVisible());
        javafx.scene.Node card = robot.lookup(n -> "stage-features.4".equals(n.getId())).query();
        assertNotNull(card, "the graph shows the bundle's stages");
        robot.drag("#head-conv").dropTo(card);
        WaitForAsyncUtils.waitForFxEvents();
        assertEquals(1, model.exits().size());
        assertEquals("features.4", model.exits().get(0).stage());
    }

    @Test
    void droppingAFolderImportsLabelledUnlabelledAndTestImages(FxRobot robot) throws Exception {
        ready(robot);
        Label why = robot.lookup("#personalise-hint").queryAs(Label.class);
        assertTrue(why.getText().contains("press Auto"), why.getText());
        robot.drag("#file-source").dropTo("#thumbnails");
        waitFor(30, () -> model.images().size() == 4 * 6 + 24 + 4 * 8);
        long test = model.images().stream().filter(ImageItem::test).count();
        long unlabelled = model.images().stream().filter(i -> i.label() == null).count();
        assertEquals(32, test);
        assertEquals(24, unlabelled);
        assertTrue(model.images().stream().anyMatch(i -> "Ankle boot".equals(i.label())), "ankle_boot folder matched");
        String counts = robot.lookup("#class-counts").queryAs(Label.class).getText();
        assertTrue(counts.contains("80 images") && counts.contains("24 unlabelled"), counts);
        // Remove takes photos out of the lab, not off the disk, and Edit > Undo remove puts them back where they stood
        List<ImageItem> before = List.copyOf(model.images());
        ImageItem first = before.get(0);
        ImageItem third = before.get(2);
        ImageItem fourth = before.get(3);
        robot.interact(() -> controller.data().removeImages(List.of(fourth, first, third)));
        assertEquals(before.size() - 3, model.images().size());
        assertTrue(Files.isRegularFile(first.path()), "the file stays on disk");
        assertTrue(model.status().get().startsWith("Removed 3 image(s) from the lab; the files stay on disk"),
                model.status().get());
        assertTrue(controller.data().canUndoRemove().get());
        // a relabel in between keeps the places: the undo still holds
        boolean wasTest = before.get(1).test();
        robot.interact(() -> controller.data().markTest(List.of(before.get(1)), !wasTest));
        robot.interact(() -> controller.data().markTest(List.of(before.get(1)), wasTest));
        assertTrue(controller.data().canUndoRemove().get());
        robot.interact(() -> controller.data().undoRemove());
        assertEquals(before, List.copyOf(model.images()), "back in their places, the same items");
        assertFalse(controller.data().canUndoRemove().get());
        // an import in between forgets the removal: its places would no longer mean anything
        robot.interact(() -> controller.data().removeImages(List.of(first)));
        robot.interact(() -> model.images().add(first));
        assertFalse(controller.data().canUndoRemove().get());
        robot.interact(() -> model.images().setAll(before));
        // the toolbar said why Personalise was greyed out; with exits placed there is nothing left to say
        robot.interact(() -> controller.exits().autoPlace());
        waitFor(10, () -> !model.exits().isEmpty());
        assertEquals("", why.getText());
        assertFalse(robot.lookup("#personalise").queryButton().isDisabled());
    }

    private void importAndPlace(FxRobot robot) throws Exception {
        ready(robot);
        robot.interact(() -> {
            controller.data().importPaths(List.of(persona));
            model.epochs().set(4);
        });
        waitFor(30, () -> model.images().size() == 80);
        robot.drag("#head-linear").dropTo("#stage-block4");
        robot.drag("#head-conv").dropTo("#stage-block6");
        WaitForAsyncUtils.waitForFxEvents();
        assertEquals(2, model.exits().size());
    }

    private void assertConfusionShowsTheOperatingPoint(FxRobot robot) {
        var c = model.current().get();
        int n = model.evaluation().get().cascade().predictions().size();
        String expected = String.format(java.util.Locale.ROOT, "The operating point: %d of %d labelled test photos "
                + "right (%.1f%%)", Math.round(c.accuracy() * n), n, 100 * c.accuracy());
        assertEquals(expected, robot.lookup("#confusion-summary").queryAs(Label.class).getText());
    }

    /**
     * The operating point's ring is drawn over every curve, the cascade's included: it is what a person looks for
     * first (JFreeChart's default order drew it first, under the exits' points that crowd around it).
     */
    private void assertOperatingPointRingOnTop(FxRobot robot) {
        List<String> misses = new ArrayList<>();
        robot.interact(() -> {
            org.jfree.chart.JFreeChart chart = view.curvesPane().chart();
            org.jfree.chart.ChartRenderingInfo info = new org.jfree.chart.ChartRenderingInfo();
            org.jfree.chart.plot.XYPlot plot = chart.getXYPlot();
            org.jfree.data.xy.XYSeries op = view.curvesPane().dataset().getSeries("operating point");
            // painted a colour no curve has for this one rendering, so what shows at the ring is the ring
            int index = view.curvesPane().dataset().indexOf(op);
            java.awt.Paint red = plot.getRenderer().getSeriesPaint(index);
            plot.getRenderer().setSeriesPaint(index, java.awt.Color.MAGENTA, false);
            java.awt.image.BufferedImage img = chart.createBufferedImage(900, 600, info);
            plot.getRenderer().setSeriesPaint(index, red, false);
            java.awt.geom.Rectangle2D area = info.getPlotInfo().getDataArea();
            double cx = plot.getDomainAxis().valueToJava2D(op.getX(0).doubleValue(), area, plot.getDomainAxisEdge());
            double cy = plot.getRangeAxis().valueToJava2D(op.getY(0).doubleValue(), area, plot.getRangeAxisEdge());
            // the ring's radius is 9 px: its left, right, top and bottom are the ring's colour
            for (int[] d : new int[][] {{9, 0}, {-9, 0}, {0, 9}, {0, -9}}) {
                int rgb = img.getRGB((int) Math.round(cx + d[0]), (int) Math.round(cy + d[1]));
                int r = (rgb >> 16) & 0xff;
                int g = (rgb >> 8) & 0xff;
                int b = rgb & 0xff;
                if (!(r > 120 && b > 120 && g < 100)) {
                    misses.add(String.format("(%+d,%+d) #%06x", d[0], d[1], rgb & 0xffffff));
                }
            }
        });
        assertTrue(misses.isEmpty(), "the operating point's ring is covered at " + misses);
    }

    /**
     * A person's own folder has no test split (issue 13). Every photo trains, and the lab reports the out-of-fold
     * estimate the operating point was chosen on, under that name: no "test photos", and no second marker for the
     * same predictions. Before, a fifth of the photos left training to score a figure on a handful of them.
     */
    @Test
    void withoutTestPhotosEveryPhotoTrainsAndTheLabReportsTheOutOfFoldEstimate(FxRobot robot) throws Exception {
        Path own = tmp.resolve("own-photos");
        if (!Files.exists(own)) {
            copySample(REPO.resolve("sample-data/tilted-phone"), own, 6, 0, 24);
        }
        ready(robot);
        robot.interact(() -> {
            controller.data().importPaths(List.of(own));
            model.epochs().set(4);
        });
        waitFor(30, () -> model.images().size() == 48);
        // said before the run: what the figures will be
        String detected = robot.lookup("#label-regime").queryAs(Label.class).getText();
        assertTrue(detected.endsWith("No test photos: every photo trains, and accuracy is measured on the labelled "
                + "ones, out of fold."), detected);
        robot.drag("#head-linear").dropTo("#stage-block4");
        robot.drag("#head-conv").dropTo("#stage-block6");
        WaitForAsyncUtils.waitForFxEvents();
        robot.clickOn("#personalise");
        waitFor(300, () -> model.resultsFinal().get() && !model.running().get());
        assertTrue(model.scoredOutOfFold());
        var p = model.evaluation().get().cascade().predictions();
        assertEquals(48, p.size(), "every photo is scored out of fold: none was held out of training");
        assertEquals(24, p.scoredCount(), "on the labelled ones");
        assertEquals(48, model.evalPaths().get().size());
        assertTrue(view.curvesPane().dataset().getSeriesIndex(CurvesPane.OUT_OF_FOLD) < 0,
                "no second marker (nor its legend entry) on the same predictions");
        String summary = robot.lookup("#cascade-summary").queryAs(Label.class).getText();
        assertTrue(summary.contains("on 24 labelled training photos, out of fold)"), summary);
        assertFalse(summary.contains("test photos"), summary);
        assertTrue(model.status().get().contains("on 24 labelled training photos, out of fold: no test photos"),
                model.status().get());
        assertFalse(Double.isNaN(model.genericAccuracy().get()), "the backbone as shipped, on the labelled photos");
        robot.interact(() -> view.tabs().getSelectionModel().select(2));
        WaitForAsyncUtils.waitForFxEvents();
        String confusion = robot.lookup("#confusion-summary").queryAs(Label.class).getText();
        assertTrue(confusion.contains(" of 24 labelled training photos right, out of fold ("), confusion);
        // a second run: while it trains there is nothing to score, so the last run's curves do not pose as its live
        // ones; a cancel puts them back
        var last = model.evaluation().get();
        robot.interact(() -> {
            model.epochs().set(400);
            model.updateLastRun().set(false);
        });
        robot.clickOn("#personalise");
        waitFor(120, () -> !model.liveStats().isEmpty());
        WaitForAsyncUtils.waitForFxEvents();
        assertTrue(model.phase().get().contains("(no test photos: the curves come from the training photos, out of "
                + "fold, when the run ends)"), model.phase().get());
        assertNull(model.evaluation().get());
        robot.clickOn("#cancel");
        waitFor(10, () -> !model.running().get());
        assertSame(last, model.evaluation().get());
        robot.interact(() -> model.epochs().set(4));
        // label regimes cannot be compared on the same photos without test photos: said, and nothing runs
        robot.interact(() -> view.tabs().getSelectionModel().select(1));
        WaitForAsyncUtils.waitForFxEvents();
        robot.clickOn("#compare-regimes");
        WaitForAsyncUtils.waitForFxEvents();
        assertTrue(model.status().get().startsWith("Comparing label regimes needs labelled test photos"),
                model.status().get());
        assertFalse(model.running().get());
    }

    /**
     * The settings' number fields take a decimal comma and refuse what is not a number out loud. ControlsFX's field
     * dropped the comma as it was typed: "0,01" became a learning rate of 1.0, a hundred times what was meant.
     */
    @Test
    void numberFieldsTakeADecimalCommaAndRefuseTextOutLoud(FxRobot robot) throws Exception {
        ready(robot);
        javafx.scene.control.TextField lr = robot.lookup("#number-learning-rate")
                .queryAs(javafx.scene.control.TextField.class);
        robot.interact(() -> lr.setText(""));
        robot.clickOn(lr).write("0,01").type(javafx.scene.input.KeyCode.ENTER);
        WaitForAsyncUtils.waitForFxEvents();
        assertEquals(0.01, model.learningRate().get(), 1e-12);
        assertEquals("0.01", lr.getText());
        javafx.scene.control.TextField epochs = robot.lookup("#number-epochs")
                .queryAs(javafx.scene.control.TextField.class);
        int before = model.epochs().get();
        robot.interact(() -> epochs.setText(""));
        robot.clickOn(epochs).write("ten").type(javafx.scene.input.KeyCode.ENTER);
        WaitForAsyncUtils.waitForFxEvents();
        assertEquals(before, model.epochs().get(), "not a number: the setting stays");
        assertEquals("Epochs: 'ten' is not a whole number; kept " + before, model.status().get());
        assertTrue(epochs.getStyleClass().contains("invalid"));
        // a value out of range is clamped, and the field shows what the setting took
        robot.interact(() -> epochs.setText(""));
        robot.clickOn(epochs).write("5000").type(javafx.scene.input.KeyCode.ENTER);
        WaitForAsyncUtils.waitForFxEvents();
        assertEquals(1000, model.epochs().get());
        assertEquals("1000", epochs.getText());
        assertFalse(epochs.getStyleClass().contains("invalid"));
    }

    @Test
    void cancelStopsWithinASecondAndKeepsTheUiResponsive(FxRobot robot) throws Exception {
        importAndPlace(robot);
        robot.interact(() -> model.epochs().set(400));
        robot.clickOn("#personalise");
        waitFor(120, () -> !model.liveStats().isEmpty());
        long t0 = System.nanoTime();
        robot.clickOn("#cancel");
        waitFor(5, () -> !model.running().get());
        double took = (System.nanoTime() - t0) / 1e9;
        assertTrue(took < 1.5, "cancel took " + took + " s");
        assertEquals("Cancelled", model.phase().get());
        assertTrue(model.longestStallMs().get() < 1000, "the FX thread stalled " + model.longestStallMs().get() + " ms");
        assertFalse(controller.run().hasResults());
    }

    @Test
    void personaliseDrawsCurvesThresholdMovesTheOperatingPointAndExportWritesABundle(FxRobot robot) throws Exception {
        importAndPlace(robot);
        robot.clickOn("#personalise");
        waitFor(300, () -> model.resultsFinal().get() && !model.running().get());
        assertTrue(model.longestStallMs().get() < 1000, "the FX thread stalled " + model.longestStallMs().get() + " ms");
        // two exit series, the cascade, the personalised final point, the generic point, the same thresholds on the
        // training photos out of fold, the operating point
        assertEquals(7, view.curvesPane().dataset().getSeriesCount());
        assertTrue(view.curvesPane().dataset().getSeries(0).getItemCount() > 10);
        assertNotNull(model.current().get());
        // the out-of-fold point joined to the operating point: where the choice was made, and how it scored
        org.jfree.data.xy.XYSeries oof = view.curvesPane().dataset().getSeries(CurvesPane.OUT_OF_FOLD);
        assertEquals(2, oof.getItemCount());
        assertEquals(100 * model.currentOutOfFold().get().accuracy(), oof.getY(0).doubleValue(), 1e-9);
        assertEquals(100 * model.current().get().accuracy(), oof.getY(1).doubleValue(), 1e-9);
        String summary = robot.lookup("#cascade-summary").queryAs(Label.class).getText();
        assertTrue(summary.contains("; out of fold on "), summary);
        // tilted-phone's generic backbone (22 % on these photos) is far below the curves: the accuracy axis fits the
        // curves and a note at its foot gives the generic figure (drawn to scale, it left the curves a strip)
        double generic = 100 * model.genericAccuracy().get();
        org.jfree.chart.axis.ValueAxis y = view.curvesPane().chart().getXYPlot().getRangeAxis();
        double lowest = Double.POSITIVE_INFINITY;
        for (int s = 0; s < view.curvesPane().dataset().getSeriesCount(); s++) {
            var series = view.curvesPane().dataset().getSeries(s);
            for (int i = 0; i < series.getItemCount() && !CurvesPane.GENERIC.equals(series.getKey()); i++) {
                double v = series.getY(i).doubleValue();
                lowest = Math.min(lowest, v);
                assertTrue(y.getRange().contains(v), series.getKey() + " at " + v + " outside " + y.getRange());
            }
        }
        System.out.printf(java.util.Locale.ROOT, "generic %.1f, lowest curve point %.1f, axis %s%n", generic, lowest,
                y.getRange());
        assertTrue(generic < lowest - CurvesPane.GENERIC_FAR_POINTS, generic + " vs " + lowest);
        assertTrue(y.getLowerBound() > generic, y.getRange().toString());
        assertEquals(String.format(java.util.Locale.ROOT, "▼ generic backbone %.1f%%", generic),
                view.curvesPane().genericNote());
        assertOperatingPointRingOnTop(robot);
        // the exit cards give the finished run's accuracies (its deployed heads), not the last training epoch's
        org.persephonee.core.eval.Evaluation ev = model.evaluation().get();
        for (ExitModel x : model.exits()) {
            int j = ev.exitNames().indexOf(x.key());
            String expected = String.format(java.util.Locale.ROOT, "%.1f%%",
                    100 * ev.cascade().predictions().accuracy(ev.cascade().predictions().exit(j)));
            String card = robot.lookup("#exit-" + x.stage() + " .exit-detail").queryAs(Label.class).getText();
            assertTrue(card.endsWith(" · " + expected), x.key() + " card '" + card + "', evaluated " + expected);
        }
        // the confusion matrix opens on what would be deployed: the operating point, image by image
        robot.interact(() -> view.tabs().getSelectionModel().select(2));
        WaitForAsyncUtils.waitForFxEvents();
        assertEquals("Confusion", view.tabs().getSelectionModel().getSelectedItem().getText());
        assertEquals(ConfusionPane.OPERATING_POINT, robot.lookup("#confusion-exit").queryAs(ComboBox.class).getValue());
        assertConfusionShowsTheOperatingPoint(robot);
        // the slider's label names a threshold only when every exit uses it (the operating point may keep a subset)
        String label = robot.lookup("#threshold-value").queryAs(Label.class).getText();
        boolean shared = model.exits().stream().map(ExitModel::threshold).distinct().count() == 1;
        assertEquals(shared, label.startsWith("threshold "), label + " with exit thresholds "
                + model.exits().stream().map(ExitModel::threshold).toList());

        // the slider moves every exit's threshold and the operating point at once
        robot.interact(() -> robot.lookup("#threshold-slider").queryAs(Slider.class).setValue(0.0));
        WaitForAsyncUtils.waitForFxEvents();
        assertEquals(1.0, model.current().get().share()[0], 1e-9, "threshold 0: everything leaves at the first exit");
        assertConfusionShowsTheOperatingPoint(robot);   // it follows the threshold
        robot.interact(() -> view.tabs().getSelectionModel().select(1));
        robot.interact(() -> robot.lookup("#threshold-slider").queryAs(Slider.class).setValue(1.0));
        WaitForAsyncUtils.waitForFxEvents();
        double[] share = model.current().get().share();
        assertTrue(share[share.length - 1] > 0.5, "threshold 1: most images reach the final exit");
        assertEquals("threshold 1.00", robot.lookup("#threshold-value").queryAs(Label.class).getText());

        Path out = tmp.resolve("export-" + System.nanoTime());
        robot.interact(() -> controller.export().export(out));
        waitFor(60, () -> Files.isRegularFile(out.resolve("exit-config.json")));
        try (EarlyExitModel m = EarlyExitModel.load(out)) {
            assertEquals(4, m.labels().size());
            File any = persona.resolve("test").toFile().listFiles()[0].listFiles()[0];
            assertNotNull(m.classify(any.toPath()).label());
        }

        // the run is kept in the workspace: a new lab restores curves and thresholds and can export again
        waitFor(60, () -> controller.snapshot().lastRun != null);
        WorkspaceState saved = controller.snapshot();
        double accuracyBefore = model.current().get().accuracy();
        double outOfFoldBefore = model.currentOutOfFold().get().accuracy();
        LabModel m2 = new LabModel();
        LabController c2 = new LabController(m2, engine, io, store);
        robot.interact(() -> c2.restore(saved, null, null));
        waitFor(60, () -> m2.resultsFinal().get() && m2.current().get() != null);
        assertEquals(2, m2.evaluation().get().exitNames().size());
        assertEquals(accuracyBefore, m2.current().get().accuracy(), 1e-9, "same thresholds, same cascade");
        assertNotNull(m2.currentOutOfFold().get(), "the training photos' out-of-fold predictions are kept too");
        assertEquals(outOfFoldBefore, m2.currentOutOfFold().get().accuracy(), 1e-9);
        // the final exit as the run had it (averaged with late exits or alone), at the run's cost
        System.out.println("final exit restored: " + m2.evaluation().get().finalExitName() + " "
                + m2.evaluation().get().finalEnsemble());
        assertEquals(model.evaluation().get().finalExitName(), m2.evaluation().get().finalExitName());
        assertEquals(model.evaluation().get().cascade().finalOnly().meanMs(),
                m2.evaluation().get().cascade().finalOnly().meanMs(), 1e-9);
        Path again = tmp.resolve("export-restored-" + System.nanoTime());
        robot.interact(() -> c2.export().export(again));
        waitFor(60, () -> Files.isRegularFile(again.resolve("exit-config.json")));
        try (EarlyExitModel m = EarlyExitModel.load(again)) {
            assertEquals(model.current().get().exits().length, m.exitStages().size());
        }

        // after Clear the curves belong to exits that are no longer placed: they say so, dimmed
        assertFalse(model.curvesStale().get(), "the curves match the placed exits");
        robot.clickOn("#clear-exits");
        WaitForAsyncUtils.waitForFxEvents();
        assertTrue(model.exits().isEmpty());
        assertTrue(model.curvesStale().get(), "cleared exits make the last run's curves stale");
        assertTrue(model.status().get().matches("Removed \\d+ exits?; the curves are the last run's .*"),
                model.status().get());
        assertTrue(robot.lookup(".stale-note").queryAs(javafx.scene.Node.class).isVisible());
        c2.shutdown();   // its own backbone: closed here, not by a finalizer
    }

    @Test
    void theThumbnailGridStaysSmoothWithTenThousandImages(FxRobot robot) throws Exception {
        ready(robot);
        Path dir = Files.createDirectories(tmp.resolve("many-" + System.nanoTime()));
        Path one;
        try (Stream<Path> s = Files.list(persona.resolve("unlabelled"))) {
            one = s.findFirst().orElseThrow();
        }
        List<ImageItem> items = new ArrayList<>();
        for (int i = 0; i < 10_000; i++) {
            Path f = dir.resolve("img" + i + ".jpg");
            Files.createLink(f, one);
            items.add(new ImageItem(f, i % 3 == 0 ? "Coat" : null, i % 10 == 0));
        }
        robot.interact(() -> model.images().setAll(items));
        WaitForAsyncUtils.waitForFxEvents();
        robot.interact(() -> view.probe().reset());
        robot.moveTo("#thumbnails");
        long t0 = System.nanoTime();
        for (int i = 0; i < 20; i++) {
            robot.scroll(20, javafx.geometry.VerticalDirection.DOWN);
        }
        WaitForAsyncUtils.waitForFxEvents();
        robot.interact(() -> view.probe().freeze());
        double stall = model.longestStallMs().get();
        System.out.printf("10,000 thumbnails: 400 scroll steps in %.1f s, longest FX stall %.0f ms%n",
                (System.nanoTime() - t0) / 1e9, stall);
        assertTrue(stall < 500, "scrolling 10,000 thumbnails stalled the FX thread " + stall + " ms");
        String counts = robot.lookup("#class-counts").queryAs(Label.class).getText();
        assertTrue(counts.startsWith("10000 images"), counts);
    }

    @Test
    void workspaceRemembersExitsImagesAndLabels(FxRobot robot) throws Exception {
        importAndPlace(robot);
        robot.interact(() -> controller.data().relabel(List.of(model.images().stream().filter(i -> i.label() == null)
                .findFirst().orElseThrow()), "coat"));
        Thread.sleep(300);
        WorkspaceState s = controller.snapshot();
        assertEquals(2, s.exits.size());
        assertEquals(80, s.images.size());
        assertEquals(7, s.images.stream().filter(i -> "Coat".equals(i.label) && !i.test).count(),
                "6 labelled coats plus the relabelled image");
        // a new controller restores it
        LabModel m2 = new LabModel();
        LabController c2 = new LabController(m2, engine, io, null);
        robot.interact(() -> c2.restore(s, null, null));
        waitFor(60, () -> m2.exits().size() == 2);
        assertEquals(80, m2.images().size());
        assertEquals(List.of("block4", "block6"), new ArrayList<>(m2.exits().stream().map(ExitModel::stage).toList()));
        c2.shutdown();
    }
}
