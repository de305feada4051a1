package org.persephonee.views;

import javafx.application.Platform;

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

    private final BooleanSupplier running;
    private final AtomicReference<Runnable> pending = new AtomicReference<>();
    /** When the last live epoch was drawn (FX thread; 0 before the first of a run). */
    private long lastDrawn;

    /** @param running whether a run is still going (a late epoch of a finished run is dropped); read on the FX thread */
    EpochThrottle(BooleanSupplier running) {
        this.running = running;
    }

    /** A run starts: its first epoch is drawn at once (FX thread). */
    void newRun() {
        lastDrawn = 0;
    }

    /** Offers an epoch's update (any thread); it replaces one not drawn yet. */
    void offer(Runnable update) {
        if (pending.getAndSet(update) == null) {
            Platform.runLater(this::drawPending);
        }
    }

    private void drawPending() {
        long waitMs = (lastDrawn + REDRAW_MS * 1_000_000L - System.nanoTime()) / 1_000_000L;
        if (waitMs > 0 && lastDrawn != 0) {
            javafx.animation.PauseTransition later = new javafx.animation.PauseTransition(
                    javafx.util.Duration.millis(waitMs));
            later.setOnFinished(e -> drawPending());
            later.play();
            return;
        }
        Runnable r = pending.getAndSet(null);
        if (r != null && running.getAsBoolean()) {
            r.run();
            lastDrawn = System.nanoTime();
        }
    }
}
