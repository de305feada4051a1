package org.persephonee.app.gui;

import javafx.application.Application;
import javafx.application.Platform;
import javafx.stage.Stage;
import org.persephonee.app.cli.PretrainCommand;
import org.persephonee.core.engine.Engines;
import org.persephonee.core.workspace.WorkspaceStore;
import org.persephonee.views.LabController;
import org.persephonee.views.LabModel;
import org.persephonee.views.LabView;

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
        Engines.configureOffline();
        Path home = Path.of(System.getProperty("persephonee.home", ".")).toAbsolutePath().normalize();
        WorkspaceStore store = new WorkspaceStore(WorkspaceStore.defaultDir());
        WorkspaceStore.Loaded loaded = store.load();
        engine = Executors.newSingleThreadExecutor(r -> daemon(r, "engine"));
        io = Executors.newSingleThreadExecutor(r -> daemon(r, "workspace"));
        LabModel model = new LabModel();
        controller = new LabController(model, engine, io, store);
        LabView view = new LabView(model, controller);
        stage.setTitle("PersEPhonEE Lab");
        stage.setScene(view.scene());
        stage.setOnHidden(e -> Platform.exit());
        stage.show();
        if (loaded.problem() != null) {
            model.errors.add(loaded.problem());
        }
        Path sampleBackbone = home.resolve("sample-models").resolve(PretrainCommand.SAMPLE_ID);
        Path samplePersona = home.resolve("sample-data").resolve(FIRST_PERSONA);
        // a folder given on the command line (or dropped on the launcher): a backbone opens, photos are imported
        Path arg = getParameters().getRaw().isEmpty() ? null : Path.of(getParameters().getRaw().get(0));
        boolean argIsBackbone = arg != null && Files.isRegularFile(arg.resolve("backbone.json"));
        Path persona = Files.isDirectory(samplePersona) ? samplePersona : null;
        model.status.set("Restoring the workspace ...");
        // restore after the first frame: the window paints its (empty) panes at once instead of staying white while
        // the images and the grid are set up
        Platform.runLater(() -> {
            if (argIsBackbone) {
                // the user's choice replaces the workspace's backbone (its exits that fit and its last run are kept)
                controller.restoreWith(loaded.state(), arg, persona);
            } else {
                controller.restore(loaded.state(), Files.isDirectory(sampleBackbone) ? sampleBackbone : null, persona,
                        arg);
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
            controller.cancel();
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
