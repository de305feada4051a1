package org.persephonee.views;

import javafx.animation.PauseTransition;
import javafx.application.Platform;
import javafx.util.Duration;

import java.util.concurrent.Executor;

/**
 * Where the lab's work runs: engine work (one task at a time), workspace and diagnostics I/O, and results handed
 * back to the UI thread. The lab runs engine and I/O work on background threads and results on the JavaFX
 * thread ({@link #fx}); a test can run everything on its own thread ({@link #sameThread}) and drive a controller
 * without the JavaFX toolkit.
 *
 * @param engine runs engine work (personalisation, backbone loading, evaluation, export)
 * @param io runs workspace saves and diagnostics
 * @param ui runs results on the thread that owns the model
 * @param later runs a task on the thread that owns the model after a delay (paced redraws)
 */
public record LabTasks(Executor engine, Executor io, Executor ui, Later later) {
    /** Runs a task on the thread that owns the model, after a delay. */
    @FunctionalInterface
    public interface Later {
        void after(long millis, Runnable task);
    }

    /** Engine and I/O work on the given executors, results on the JavaFX application thread. */
    public static LabTasks fx(Executor engine, Executor io) {
        return new LabTasks(engine, io, Platform::runLater, (ms, task) -> {
            PauseTransition p = new PauseTransition(Duration.millis(ms));
            p.setOnFinished(e -> task.run());
            p.play();
        });
    }

    /** Everything on the caller's thread, in order and without delays: for tests without the JavaFX toolkit. */
    public static LabTasks sameThread() {
        Executor direct = Runnable::run;
        return new LabTasks(direct, direct, direct, (ms, task) -> task.run());
    }
}
