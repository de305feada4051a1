package org.persephonee.views;

import javafx.animation.AnimationTimer;
import javafx.beans.property.DoubleProperty;

/**
 * Measures how long the FX thread goes without a pulse: a timer runs every frame and records the longest
 * gap between frames since {@link #reset()}. Engine work on the FX thread shows up as a long gap.
 */
public final class StallProbe extends AnimationTimer {
    private final DoubleProperty longestMs;
    private long last;
    private volatile long lastFrameNanos = System.nanoTime();

    /** Reports into {@code longestMs} (written on the FX thread). */
    public StallProbe(DoubleProperty longestMs) {
        this.longestMs = longestMs;
    }

    private boolean frozen = true;

    /** Starts a new measurement. */
    public void reset() {
        last = 0;
        frozen = false;
        longestMs.set(0);
    }

    /** Stops recording (the value stays until the next reset). */
    public void freeze() {
        frozen = true;
    }

    @Override
    public void handle(long now) {
        if (!frozen && last != 0) {
            double gap = (now - last) / 1e6;
            if (gap > longestMs.get()) {
                longestMs.set(gap);
            }
        }
        last = now;
        lastFrameNanos = System.nanoTime();
    }

    /** {@link System#nanoTime()} at the last frame (read from any thread: a watchdog sees a stall as it happens). */
    public long lastFrameNanos() {
        return lastFrameNanos;
    }
}
