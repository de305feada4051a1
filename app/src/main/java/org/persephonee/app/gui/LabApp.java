package org.persephonee.app.gui;

import javafx.application.Application;
import javafx.application.Platform;
import javafx.scene.Parent;
import javafx.scene.Scene;
import javafx.stage.Stage;
import org.persephonee.app.cli.PretrainCommand;
import org.persephonee.core.engine.Engines;
import org.persephonee.core.workspace.WorkspaceStore;
import org.persephonee.views.LabController;
import org.persephonee.views.LabModel;
import org.persephonee.views.LabView;
import org.persephonee.views.StartupTimeline;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** The desktop lab. On the first start it opens the sample backbone and a sample persona. */
public final class LabApp extends Application {
    /** Persona loaded on a first start. */
    public static final String FIRST_PERSONA = "tilted-phone";

    private LabController controller;
    private ExecutorService engine;
    private ExecutorService io;

    @Override
    public void start(Stage stage) {
        StartupTimeline.mark("JavaFX started");
        Engines.configureOffline();
        engine = Executors.newSingleThreadExecutor(r -> daemon(r, "engine"));
        io = Executors.newSingleThreadExecutor(r -> daemon(r, "workspace"));
        // a light window first, saying what the lab is doing; once it is out, the panes are built on their own
        // thread (nodes may be built on any thread until they join a showing window) while the native engine loads
        // and checks itself
        StartingView starting = new StartingView();
        Scene scene = new Scene(starting.root(), 1400, 860);
        Thread build = new Thread(() -> {
            try {
                // the panes are built once the native engine is in (or after a while): while the engine thread maps
                // libtorch into the process, the FX thread waited up to 0.3 s at its first call of a native method
                // it had not used yet (styling the panes), and building them beside the loading starved the
                // starting view of CPU (stalls of 120-170 ms); meanwhile the starting view only animates
                try {
                    if (org.persephonee.core.engine.EngineGuard.decidesQuickly()) {
                        engineLoaded.await(ENGINE_WAIT_MS, java.util.concurrent.TimeUnit.MILLISECONDS);
                    } else {
                        // a first start checks the engine in child processes for seconds: the panes do not wait for
                        // that, but for the starting view's warm-up, which would otherwise wait for the engine and
                        // find the panes already shown (their first CSS passes in cold code were 115-183 ms stalls
                        // beside the check)
                        Platform.runLater(() -> warmUp(starting, scene));
                        warmedUp.await(ENGINE_WAIT_MS, java.util.concurrent.TimeUnit.MILLISECONDS);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (RuntimeException e) {
                    // the engine's cache unreadable: build at once; opening the backbone reports the engine
                }
                Path home = Path.of(System.getProperty("persephonee.home", ".")).toAbsolutePath().normalize();
                WorkspaceStore store = new WorkspaceStore(WorkspaceStore.defaultDir());
                WorkspaceStore.Loaded loaded = store.load();
                StartupTimeline.mark("workspace file read");
                LabModel model = new LabModel();
                LabController c = new LabController(model, engine, io, store);
                LabView view = new LabView(model, c).progressive(true);
                // only the nodes: their CSS pass and layout stay on the FX thread (JavaFX measures text with
                // shared state, so styling a second scene here corrupts the FX thread's text layout)
                Parent root = view.build();
                StartupTimeline.mark("lab panes built");
                Platform.runLater(() -> show(stage, scene, view, root, model, c, loaded, home));
            } catch (RuntimeException | Error e) {
                System.err.println("persephonee: the lab's window could not be built");
                e.printStackTrace();
                Platform.runLater(() -> starting.failed(e));
            }
        }, "lab-build");
        build.setDaemon(true);
        scene.getStylesheets().add(LabView.class.getResource("lab.css").toExternalForm());
        stage.setTitle("PersEPhonEE Lab");
        stage.setScene(scene);
        stage.setOnHidden(e -> Platform.exit());
        stage.show();
        StartupTimeline.watchFxStalls();
        StartupTimeline.mark("window shown");
        // the panes and the engine start once the first frame is on screen, not merely laid out: on two cores
        // they would hold up its rendering (a few frames later, the renderer has presented it)
        new javafx.animation.AnimationTimer() {
            private int frames;

            @Override
            public void handle(long now) {
                if (++frames == 1) {
                    StartupTimeline.mark("first frame laid out");
                } else if (frames == FRAMES_BEFORE_WORK) {
                    stop();
                    StartupTimeline.mark("background work starts");
                    build.start();
                    engine.execute(() -> {
                        try {
                            Engines.pytorch();
                            StartupTimeline.mark("engine ready");
                        } catch (RuntimeException e) {
                            // opening the backbone reports it, with the file it concerns
                        } finally {
                            engineLoaded.countDown();
                            // like the work, the warm-up waits for the first frame to be on screen (it slowed the
                            // first content by 0.2-0.3 s when it started with the window), and for the engine (above)
                            Platform.runLater(() -> warmUp(starting, scene));
                        }
                    });
                }
            }
        }.start();
    }

    /** Frames of the starting view before the panes are built and the engine loads. */
    private static final int FRAMES_BEFORE_WORK = 4;

    /**
     * How long the panes wait for the native engine to load before they are built anyway, when it is expected soon
     * (a later start loads it in about 0.3-0.7 s; a first start checks the engine in child processes for seconds, and
     * the panes do not wait for that).
     */
    private static final long ENGINE_WAIT_MS = 1500;

    /** Counted down once the starting view's warm-up has styled every control kind, or stopped. */
    private final java.util.concurrent.CountDownLatch warmedUp = new java.util.concurrent.CountDownLatch(1);
    private boolean warmUpStarted;

    /** Starts the starting view's warm-up once (FX thread). */
    private void warmUp(StartingView starting, Scene scene) {
        if (warmUpStarted) {
            return;
        }
        warmUpStarted = true;
        starting.warmUp(() -> scene.getRoot() != starting.root(), warmedUp::countDown);
    }

    /** Counted down once the native engine is loaded, or failed to. */
    private final java.util.concurrent.CountDownLatch engineLoaded = new java.util.concurrent.CountDownLatch(1);

    private void show(Stage stage, Scene scene, LabView view, Parent root, LabModel model, LabController c,
                      WorkspaceStore.Loaded loaded, Path home) {
        controller = c;
        scene.setRoot(root);
        view.started();
        StartupTimeline.mark("lab panes shown");
        if (loaded.problem() != null) {
            model.errors().add(loaded.problem());
        }
        Path sampleBackbone = home.resolve("sample-models").resolve(PretrainCommand.SAMPLE_ID);
        Path samplePersona = home.resolve("sample-data").resolve(FIRST_PERSONA);
        // a folder given on the command line (or dropped on the launcher): a backbone opens, photos are imported
        Path arg = getParameters().getRaw().isEmpty() ? null : Path.of(getParameters().getRaw().get(0));
        boolean argIsBackbone = arg != null && Files.isRegularFile(arg.resolve("backbone.json"));
        Path persona = Files.isDirectory(samplePersona) ? samplePersona : null;
        model.status().set("Restoring the workspace ...");
        // restore after the panes' first frame is laid out: the window paints them at once instead of staying blank
        // while the images and the grid are set up (a runLater ran before that frame: one stall of 120 ms)
        org.persephonee.views.Frames.after(2, () -> {
            if (argIsBackbone) {
                // the user's choice replaces the workspace's backbone (its exits that fit and its last run are kept)
                controller.restoreWith(loaded.state(), arg, persona);
            } else {
                controller.restore(loaded.state(), Files.isDirectory(sampleBackbone) ? sampleBackbone : null,
                        persona, arg);
            }
        });
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    @Override
    public void stop() throws InterruptedException {
        // stop engine work first, then free native memory: never close a backbone under a running job
        if (controller != null) {
            controller.run().cancel();
        }
        if (engine != null) {
            engine.shutdown();
            engine.awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
        }
        if (io != null) {
            io.shutdown();
            io.awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
        }
        if (controller != null) {
            controller.shutdown();
        }
    }

    /** Starts the lab. */
    public static void launchLab(String[] args) {
        Application.launch(LabApp.class, args);
    }
}
