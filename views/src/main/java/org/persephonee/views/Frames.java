package org.persephonee.views;

/** Work deferred by frames on the FX thread. */
public final class Frames {
    private Frames() { }

    /**
     * Runs {@code task} on the FX thread in the {@code n}-th frame from now (an animation timer's, which runs
     * before that frame's CSS and layout): with 2, after the next frame has laid out and rendered what is queued
     * so far. Call on the FX thread.
     */
    public static void after(int n, Runnable task) {
        new javafx.animation.AnimationTimer() {
            private int frames;

            @Override
            public void handle(long now) {
                if (++frames < n) {
                    return;
                }
                stop();
                task.run();
            }
        }.start();
    }
}
