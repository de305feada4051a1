package org.persephonee.views;

import javafx.scene.control.TabPane;
import javafx.stage.Stage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.persephonee.core.workspace.WorkspaceState;
import org.persephonee.core.workspace.WorkspaceStore;
import org.testfx.api.FxRobot;
import org.testfx.framework.junit5.ApplicationExtension;
import org.testfx.framework.junit5.Start;
import org.testfx.util.WaitForAsyncUtils;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The longest FX-thread stall of each flow a user goes through (issue 17), measured by the lab's own stall
 * probe: a run with live curves and its end-of-run chart, export, switching tabs, restoring a workspace with a
 * run, importing 10,000 images. Prints one line per flow (README quotes them) and fails above the limit.
 */
@ExtendWith(ApplicationExtension.class)
class StallPerFlowTest {
    /**
     * What a flow may stall the FX thread for here, in ms. The target is 100 ms (issue 17); measured 48-107 ms per
     * flow over a dozen runs on this quiet 2-core machine (README), 120-168 ms before the grid, table and chart
     * fixes, and up to 157 ms with the lab started twice alongside. The limit fails on freezes of the kind that held
     * the lab for seconds (a tooltip per thumbnail cell, a matrix rebuilt per epoch), not on a busy machine.
     */
    static final double LIMIT_MS = Double.parseDouble(System.getProperty("persephonee.stallLimitMs", "250"));

    LabModel model;
    LabController controller;
    LabView view;
    ExecutorService engine;
    ExecutorService io;
    Path tmp;

    @Start
    void start(Stage stage) throws Exception {
        tmp = Files.createTempDirectory("stall-flows");
        model = new LabModel();
        engine = Executors.newSingleThreadExecutor();
        io = Executors.newSingleThreadExecutor();
        controller = new LabController(model, engine, io, new WorkspaceStore(tmp.resolve("ws")));
        view = new LabView(model, controller);
        stage.setScene(view.scene());
        stage.show();
        controller.exits().openBackbone(LabUiTest.BACKBONE);
    }

    @AfterEach
    void stop() throws Exception {
        WaitForAsyncUtils.asyncFx(controller.run()::cancel).get(10, TimeUnit.SECONDS);
        engine.shutdown();
        engine.awaitTermination(30, TimeUnit.SECONDS);
        io.shutdown();
        controller.shutdown();
    }

    private static void waitFor(int seconds, Callable<Boolean> condition) throws Exception {
        WaitForAsyncUtils.waitFor(seconds, TimeUnit.SECONDS, condition);
        WaitForAsyncUtils.waitForFxEvents();
    }

    /** Runs a flow between a probe reset and a freeze, with a few quiet frames after it; its longest stall. */
    private double measure(FxRobot robot, Callable<Void> flow) throws Exception {
        robot.interact(() -> view.probe().reset());
        flow.call();
        Thread.sleep(300);
        WaitForAsyncUtils.waitForFxEvents();
        robot.interact(() -> view.probe().freeze());
        return model.longestStallMs().get();
    }

    /** With -Dpersephonee.stallTrace=true: the FX thread's stack during every gap over 50 ms, to name a cause. */
    private void traceStalls(FxRobot robot) throws Exception {
        Thread[] fx = new Thread[1];
        robot.interact(() -> fx[0] = Thread.currentThread());
        Thread w = new Thread(() -> {
            Map<String, Integer> counts = new LinkedHashMap<>();
            long start = 0;
            while (true) {
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    return;
                }
                long last = view.probe().lastFrameNanos();
                if (System.nanoTime() - last > 50_000_000L) {
                    start = start == 0 ? last : start;
                    StackTraceElement[] st = fx[0].getStackTrace();
                    StringBuilder sb = new StringBuilder();
                    int k = 0;
                    for (StackTraceElement e : st) {
                        String c = e.getClassName();
                        if (c.startsWith("org.persephonee") || c.startsWith("org.jfree") || c.startsWith("org.controlsfx")
                                || c.startsWith("javafx.scene.control") || c.contains("Skin")) {
                            sb.append(c.substring(c.lastIndexOf('.') + 1)).append('.').append(e.getMethodName())
                                    .append(':').append(e.getLineNumber()).append(" < ");
                            if (++k == 6) {
                                break;
                            }
                        }
                    }
                    counts.merge(st.length > 0 ? st[0].getMethodName() + " | " + sb : "?", 1, Integer::sum);
                } else if (start != 0) {
                    System.out.printf("stall %.0f ms:%n", (last - start) / 1e6);
                    counts.entrySet().stream().sorted((a, b) -> b.getValue() - a.getValue()).limit(6)
                            .forEach(e -> System.out.println("   x" + e.getValue() + " " + e.getKey()));
                    counts.clear();
                    start = 0;
                }
            }
        }, "stall-trace");
        w.setDaemon(true);
        w.start();
    }

    @Test
    void everyFlowKeepsTheFxThreadResponsive(FxRobot robot) throws Exception {
        waitFor(60, () -> model.backbone().get() != null && model.stageProfile().get() != null);
        // start-up is over when the chart code has been warmed in the background (the lab does that once started)
        view.curvesPane().warmed().get(60, TimeUnit.SECONDS);
        if (Boolean.getBoolean("persephonee.stallTrace")) {
            traceStalls(robot);
        }
        Path persona = LabUiTest.persona;
        if (persona == null) {
            LabUiTest.data();
            persona = LabUiTest.persona;
        }
        Map<String, Double> stalls = new LinkedHashMap<>();
        Path small = persona;
        stalls.put("import 80 images", measure(robot, () -> {
            robot.interact(() -> {
                controller.data().importPaths(List.of(small));
                model.epochs().set(4);
            });
            waitFor(30, () -> model.images().size() == 80);
            return null;
        }));
        robot.drag("#head-grid").dropTo("#stage-block3");
        robot.drag("#head-grid").dropTo("#stage-block5");
        WaitForAsyncUtils.waitForFxEvents();
        stalls.put("run with live curves and the end-of-run chart", measure(robot, () -> {
            robot.clickOn("#personalise");
            waitFor(300, () -> model.resultsFinal().get() && !model.running().get());
            return null;
        }));
        stalls.put("switch tabs (Data, Curves, Confusion, Curves)", measure(robot, () -> {
            TabPane tabs = robot.lookup(".tab-pane").queryAs(TabPane.class);
            for (int t : new int[] {0, 1, 2, 1}) {
                robot.interact(() -> tabs.getSelectionModel().select(t));
                Thread.sleep(150);
            }
            return null;
        }));
        stalls.put("export a bundle", measure(robot, () -> {
            Path out = tmp.resolve("export");
            robot.interact(() -> controller.export().export(out));
            waitFor(60, () -> Files.isRegularFile(out.resolve("exit-config.json")));
            // the lab says so in its own window (a toast), not in a popup window of its own
            waitFor(10, () -> robot.lookup(".toast-title").queryAll().stream()
                    .anyMatch(n -> ((javafx.scene.control.Label) n).getText().contains("Bundle exported")));
            return null;
        }));
        if (System.getProperty("persephonee.snapshot") != null) {
            // -Dpersephonee.snapshot=FILE.png: the lab with the export toast, to look at
            robot.interact(() -> {
                javafx.scene.image.WritableImage img = robot.lookup("#lab-root").query().getScene().snapshot(null);
                try {
                    javax.imageio.ImageIO.write(javafx.embed.swing.SwingFXUtils.fromFXImage(img, null), "png",
                            new java.io.File(System.getProperty("persephonee.snapshot")));
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        }
        waitFor(60, () -> controller.snapshot().lastRun != null);
        WorkspaceState saved = controller.snapshot();
        // the lab restores onto an empty lab at start: empty this one (outside the measurement)
        robot.interact(() -> {
            List.copyOf(model.exits()).forEach(controller.exits()::removeExit);
            controller.data().removeImages(List.copyOf(model.images()));
        });
        waitFor(10, () -> model.images().isEmpty() && model.exits().isEmpty());
        Thread.sleep(300);
        stalls.put("restore a workspace with its last run", measure(robot, () -> {
            robot.interact(() -> controller.restore(saved, null, null));
            // over when the kept run is back on screen (it is read in the background after the exits are placed)
            waitFor(60, () -> model.images().size() == 80 && model.exits().size() == 2
                    && model.status().get().startsWith("Restored the last run") && model.current().get() != null);
            return null;
        }));
        Path many = Files.createDirectories(tmp.resolve("many"));
        Path one;
        try (Stream<Path> s = Files.list(small.resolve("unlabelled"))) {
            one = s.findFirst().orElseThrow();
        }
        for (int i = 0; i < 10_000; i++) {
            Files.createLink(many.resolve("img" + i + ".jpg"), one);
        }
        stalls.put("import 10,000 images", measure(robot, () -> {
            robot.interact(() -> controller.data().importPaths(List.of(many)));
            waitFor(120, () -> model.images().size() >= 10_000);
            return null;
        }));
        StringBuilder report = new StringBuilder("longest FX-thread stall per flow:\n");
        stalls.forEach((k, v) -> report.append(String.format(java.util.Locale.ROOT, "  %-50s %6.0f ms%n", k, v)));
        System.out.print(report);
        stalls.forEach((k, v) -> assertTrue(v <= LIMIT_MS, k + ": the FX thread stalled " + v + " ms\n" + report));
    }
}
