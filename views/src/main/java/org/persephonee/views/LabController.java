package org.persephonee.views;

import javafx.collections.ListChangeListener;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.engine.Doctor;
import org.persephonee.core.exits.HeadType;
import org.persephonee.core.workspace.WorkspaceState;
import org.persephonee.core.workspace.WorkspaceStore;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.function.Consumer;

/**
 * The lab's actions, one controller per feature on one {@link LabModel}: {@link #exits()} (backbone and exits),
 * {@link #data()} (images and labels), {@link #run()} (personalisation), {@link #curves()} (thresholds and the
 * cascade shown), {@link #export()} (bundles), {@link #review()} (the review queue) and the workspace kept in step with them. Each reads its inputs on
 * the thread that owns the model, runs engine work on {@link LabTasks#engine()} and applies results through
 * {@link LabTasks#ui()}.
 */
public final class LabController {
    private final LabModel model;
    private final LabTasks tasks;
    private final WorkspaceSync sync;
    private final ExitsController exits;
    private final DataController data;
    private final CurvesController curves;
    private final LastRunKeeper kept;
    private final RunController run;
    private final ExportController export;
    private final ReviewController review;
    private final HistoryController history;

    /**
     * Creates the controller, engine and I/O work on the given executors and results on the JavaFX thread.
     *
     * @param engine runs engine work (one task at a time is expected)
     * @param io runs workspace saves
     * @param store the workspace store, or null to keep nothing between runs
     */
    public LabController(LabModel model, Executor engine, Executor io, WorkspaceStore store) {
        this(model, LabTasks.fx(engine, io), store);
    }

    /**
     * Creates the controller on the given tasks ({@link LabTasks#sameThread()} drives it from a test without the
     * JavaFX toolkit).
     *
     * @param store the workspace store, or null to keep nothing between runs
     */
    public LabController(LabModel model, LabTasks tasks, WorkspaceStore store) {
        this.model = model;
        this.tasks = tasks;
        Consumer<String> error = this::error;
        this.curves = new CurvesController(model);
        this.exits = new ExitsController(model, tasks, error, this::save, curves::clear,
                this::afterUserOpen);
        this.data = new DataController(model, tasks, error);
        this.kept = new LastRunKeeper(model, tasks, store, error, this::save, curves::recompute);
        this.run = new RunController(model, tasks, exits, curves, kept, error, this::save);
        this.export = new ExportController(model, tasks, run, kept, error);
        this.review = new ReviewController(model, new ReviewModel(), data, run, kept);
        this.history = new HistoryController(model, new HistoryModel(), tasks, store, kept, run, error);
        WorkspaceSettings settings = new WorkspaceSettings(model);
        WorkspaceSaver saver = store == null ? null
                : new WorkspaceSaver(store, tasks.io(), tasks.ui(), model.status()::set, error);
        this.sync = new WorkspaceSync(model, settings, saver, new WorkspaceSync.Host() {
            @Override public void openBackbone(Path dir, Runnable then, Runnable failed) {
                exits.openBackbone(dir, then, failed);
            }

            @Override public Optional<String> addExit(String stage, HeadType type) {
                return exits.addExit(stage, type);
            }

            @Override public void importPaths(List<Path> paths) { data.importPaths(paths); }

            @Override public void restoreLastRun() { kept.restore(); }

            @Override public boolean lastRunReady() { return kept.ready(); }

            @Override public void error(String message) { LabController.this.error(message); }
        });
        model.exits().addListener((ListChangeListener<ExitModel>) c -> {
            curves.recompute();
            save();
        });
        model.images().addListener((ListChangeListener<ImageItem>) c -> save());
        model.globalThreshold().addListener((o, a, b) -> save());
        for (javafx.beans.value.ObservableValue<?> v : settings.properties()) {
            v.addListener((o, a, b) -> save());
        }
    }

    public LabModel model() { return model; }

    /** A backbone the user opened: it takes the exits a workspace kept aside, then the workspace is saved. */
    private void afterUserOpen() {
        sync.placeUnapplied();
        save();
    }

    /** The backbone and its exits. */
    public ExitsController exits() { return exits; }

    /** The person's images and labels. */
    public DataController data() { return data; }

    /** Personalisation runs. */
    public RunController run() { return run; }

    /** Thresholds and the cascade shown on the curves. */
    public CurvesController curves() { return curves; }

    /** Deployment bundles. */
    public ExportController export() { return export; }

    /** The review queue (active labelling). */
    public ReviewController review() { return review; }

    /** The runs kept in the workspace, and an earlier one drawn over the curves. */
    public HistoryController history() { return history; }

    /** Shows a problem: in the status bar, the lab's messages and on the terminal the lab was started from. */
    private void error(String message) {
        // also on the terminal a lab was started from: what a user pastes into a bug report
        System.err.println("persephonee: " + message);
        model.errors().add(message);
        model.status().set(message);
    }

    /**
     * Gathers the engine diagnostics ({@code persephonee doctor}) in the background and hands the text to
     * {@code show} on the FX thread.
     *
     * @param show receives the report text, never {@code null}
     */
    public void diagnostics(Consumer<String> show) {
        tasks.io().execute(() -> {
            String text;
            try {
                text = String.join("\n", Doctor.lines(Doctor.report()));
            } catch (RuntimeException | LinkageError e) {
                text = "The engine could not start: " + e.getMessage();
            }
            String t = text;
            tasks.ui().execute(() -> show.accept(t));
        });
    }

    // ---------------------------------------------------------------- workspace

    /** Saves the workspace in the background after a change the user made (latest state wins). */
    public void save() {
        sync.save();
    }

    WorkspaceState snapshot() {
        return sync.snapshot();
    }

    /**
     * Restores a workspace (or, when it has no backbone, opens {@code fallbackBackbone} and imports
     * {@code fallbackData}).
     */
    public void restore(WorkspaceState s, Path fallbackBackbone, Path fallbackData) {
        sync.restore(s, fallbackBackbone, fallbackData, null);
    }

    /** See {@link WorkspaceSync#restore(WorkspaceState, Path, Path, Path)}. */
    public void restore(WorkspaceState s, Path fallbackBackbone, Path fallbackData, Path extraData) {
        sync.restore(s, fallbackBackbone, fallbackData, extraData);
    }

    /** See {@link WorkspaceSync#restoreWith}. */
    public void restoreWith(WorkspaceState s, Path chosenBackbone, Path fallbackData) {
        sync.restoreWith(s, chosenBackbone, fallbackData);
    }

    /** Stops a run and frees native memory (on exit). */
    public void shutdown() {
        run.shutdown();
        exits.shutdown();
        Backbone bb = model.backbone().get();
        if (bb != null) {
            // behind engine work still queued (a stage timing) when the engine still runs; at once when it is drained
            try {
                tasks.engine().execute(bb::close);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                bb.close();
            }
        }
    }
}
