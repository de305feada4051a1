package org.persephonee.views;

import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

/**
 * Hands a run's live epochs to the FX thread: the newest one wins, and they are drawn at most once per
 * {@link #REDRAW_MS}. Redrawing the curves takes 60-150 ms of the FX thread under software rendering, and epochs on
 * cached features can come every few milliseconds (one redraw per epoch made the window miss frames for up to
 * 340 ms).
 */
final class EpochThrottle {
    /** Fewest milliseconds between two live redraws of the curves during training. */
    static final long REDRAW_MS = 300;

    private final LabTasks tasks;
    private final BooleanSupplier running;
    private final AtomicReference<Runnable> pending = new AtomicReference<>();
    /** When the last live epoch was drawn (FX thread; 0 before the first of a run). */
    private long lastDrawn;

    /**
     * @param tasks where epochs are drawn ({@link LabTasks#ui()}) and paced ({@link LabTasks#later()})
     * @param running whether a run is still going (a late epoch of a finished run is dropped); read on the FX thread
     */
    EpochThrottle(LabTasks tasks, BooleanSupplier running) {
        this.tasks = tasks;
        this.running = running;
    }

    /** A run starts: its first epoch is drawn at once (FX thread). */
    void newRun() {
        lastDrawn = 0;
    }

    /** Offers an epoch's update (any thread); it replaces one not drawn yet. */
    void offer(Runnable update) {
        if (pending.getAndSet(update) == null) {
            tasks.ui().execute(this::drawPending);
        }
    }

    private void drawPending() {
        long waitMs = (lastDrawn + REDRAW_MS * 1_000_000L - System.nanoTime()) / 1_000_000L;
        if (waitMs > 0 && lastDrawn != 0) {
            tasks.later().after(waitMs, this::draw);
            return;
        }
        draw();
    }

    /** Draws the newest epoch not drawn yet, if the run goes on. */
    private void draw() {
        Runnable r = pending.getAndSet(null);
        if (r != null && running.getAsBoolean()) {
            r.run();
            lastDrawn = System.nanoTime();
        }
    }
}
