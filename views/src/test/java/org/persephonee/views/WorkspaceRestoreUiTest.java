package org.persephonee.views;

import javafx.scene.Scene;
import javafx.scene.control.Slider;
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

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Starts the lab on a saved workspace, as the desktop app does, and checks what ends up in
 * {@code workspace.json}: never a state that knows less than the file without the user saying so.
 */
@ExtendWith(ApplicationExtension.class)
class WorkspaceRestoreUiTest {
    LabModel model;
    LabController controller;
    WorkspaceStore store;
    ExecutorService engine;
    ExecutorService ioThread;
    /** The content of workspace.json after every task of the workspace executor. */
    final List<String> written = Collections.synchronizedList(new ArrayList<>());
    Path tmp;

    @Start
    void start(Stage stage) throws IOException {
        tmp = Files.createTempDirectory("lab-ws");
        model = new LabModel();
        engine = Executors.newSingleThreadExecutor();
        ioThread = Executors.newSingleThreadExecutor();
        store = new WorkspaceStore(tmp.resolve("workspace"));
        Executor io = task -> ioThread.execute(() -> {
            task.run();
            try {
                if (Files.exists(store.file())) {
                    written.add(Files.readString(store.file()));
                }
            } catch (IOException e) {
                written.add("unreadable: " + e);
            }
        });
        controller = new LabController(model, engine, io, store);
        LabView view = new LabView(model, controller);
        Scene scene = new Scene(view.build(), 1400, 860);
        view.started();
        scene.getStylesheets().add(LabView.class.getResource("lab.css").toExternalForm());
        stage.setScene(scene);
        stage.show();
    }

    @AfterEach
    void stop() throws Exception {
        engine.shutdown();
        engine.awaitTermination(30, TimeUnit.SECONDS);
        ioThread.shutdown();
        ioThread.awaitTermination(30, TimeUnit.SECONDS);
        controller.shutdown();
    }

    /** A copy of the sample backbone (so that the test can take it away). */
    private Path copyBackbone(String name) throws IOException {
        Path dst = Files.createDirectories(tmp.resolve(name));
        try (Stream<Path> files = Files.list(LabUiTest.BACKBONE)) {
            for (Path f : files.toList()) {
                Files.copy(f, dst.resolve(f.getFileName().toString()));
            }
        }
        return dst;
    }

    /** A workspace on {@code backbone} with two exits, an image, a setting and a kept last run. */
    private WorkspaceState writeWorkspace(Path backbone) throws IOException {
        WorkspaceState s = new WorkspaceState();
        s.backbone = backbone.toString();
        s.exits.add(new WorkspaceState.Exit("block4", "linear", 0.7));
        s.exits.add(new WorkspaceState.Exit("block6", "conv32x1", 0.8));
        s.images.add(new WorkspaceState.Image(tmp.resolve("photo.png").toString(), "Coat", false));
        s.settings.put("epochs", "12");
        s.lastRun = "last-run";
        store.save(s, WorkspaceStore.Reason.USER_EDIT);
        Files.createDirectories(store.dir().resolve("last-run"));
        Files.writeString(store.dir().resolve("last-run").resolve("bundle-marker"), "kept");
        written.clear();
        return store.load().state();
    }

    /** Waits until the workspace executor has written everything queued so far. */
    private void drainSaves() throws Exception {
        WaitForAsyncUtils.waitForFxEvents();
        ioThread.submit(() -> { }).get(30, TimeUnit.SECONDS);
    }

    private void waitForExits() throws Exception {
        try {
            WaitForAsyncUtils.waitFor(180, TimeUnit.SECONDS, () -> model.exits().size() == 2);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("exits not placed; status: " + model.status().get() + "; errors: " + model.errors(), e);
        }
    }

    private static WorkspaceState parse(String json) {
        return new com.google.gson.Gson().fromJson(json, WorkspaceState.class);
    }

    private static void assertKnowsEverything(Path backbone, WorkspaceState s) {
        assertEquals(backbone.toString(), s.backbone);
        assertEquals(List.of("block4:linear", "block6:conv32x1"),
                s.exits.stream().map(e -> e.stage + ":" + e.head).toList());
        assertEquals("last-run", s.lastRun);
        assertEquals(1, s.images.size());
    }

    @Test
    void aMissingBackboneFolderIsReportedAndTheFirstEditKeepsTheBackboneExitsAndLastRun(FxRobot robot)
            throws Exception {
        Path bb = copyBackbone("resnet9-copy");
        WorkspaceState saved = writeWorkspace(bb);
        Path away = tmp.resolve("resnet9-unplugged");
        Files.move(bb, away);

        // as at start: the sample backbone is the fallback for a workspace without a backbone
        robot.interact(() -> controller.restore(saved, LabUiTest.BACKBONE, null));
        WaitForAsyncUtils.waitFor(30, TimeUnit.SECONDS, () -> model.errors().stream().anyMatch(e -> e.contains(bb.toString())));
        WaitForAsyncUtils.waitForFxEvents();
        String told = model.errors().stream().filter(e -> e.contains(bb.toString())).findFirst().orElseThrow();
        assertTrue(told.contains("missing") && told.contains("2 exit(s)") && told.contains("last run"), told);
        assertTrue(model.status().get().contains(bb.toString()), model.status().get());
        assertNull(model.backbone().get(), "no other backbone is opened in its place");

        // an edit: the global threshold slider
        robot.interact(() -> robot.lookup("#threshold-slider").queryAs(Slider.class).setValue(0.5));
        drainSaves();
        WorkspaceState after = store.load().state();
        assertKnowsEverything(bb, after);
        assertEquals(0.5, after.globalThreshold, 1e-9, "the edit is saved");
        assertEquals("12", after.settings.get("epochs"));
        for (String w : written) {
            assertKnowsEverything(bb, parse(w));
        }
        assertTrue(Files.isRegularFile(store.previousFile()), "the replaced version is kept beside it");
        assertTrue(Files.isRegularFile(store.dir().resolve("last-run").resolve("bundle-marker")));

        // the folder is back and the user opens it: the remembered exits are placed on it
        Files.move(away, bb);
        robot.interact(() -> controller.exits().openBackbone(bb));
        waitForExits();
        drainSaves();
        assertEquals(List.of(0.7, 0.8), model.exits().stream().map(ExitModel::threshold).toList());
        assertKnowsEverything(bb, store.load().state());
    }

    @Test
    void atStartNothingIsSavedBeforeTheRestoredExitsAndLastRunAreApplied(FxRobot robot) throws Exception {
        Path bb = copyBackbone("resnet9-copy");
        WorkspaceState saved = writeWorkspace(bb);
        robot.interact(() -> controller.restore(saved, null, null));
        // an edit while the backbone is still loading: saved with the restored workspace, not before it
        robot.interact(() -> model.epochs().set(9));
        waitForExits();
        drainSaves();
        assertFalse(written.isEmpty(), "the restored workspace is saved");
        for (String w : written) {
            assertKnowsEverything(bb, parse(w));
        }
        WorkspaceState after = store.load().state();
        assertEquals("9", after.settings.get("epochs"));
        assertEquals(List.of(0.7, 0.8), after.exits.stream().map(e -> e.threshold).toList());
    }

    @Test
    void aBackboneChosenAtStartReplacesTheWorkspacesOwnAndTakesItsExits(FxRobot robot) throws Exception {
        Path own = copyBackbone("resnet9-own");
        WorkspaceState saved = writeWorkspace(own);
        Path chosen = copyBackbone("resnet9-chosen");
        robot.interact(() -> controller.restoreWith(saved, chosen, null));
        waitForExits();
        drainSaves();
        assertKnowsEverything(chosen, store.load().state());
        assertEquals(own.toString(), parse(Files.readString(store.previousFile())).backbone,
                "the replaced version is kept beside it");
    }
}
