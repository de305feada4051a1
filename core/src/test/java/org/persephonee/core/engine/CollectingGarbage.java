package org.persephonee.core.engine;

/**
 * A thread that asks for a garbage collection every millisecond until closed: what a busy JVM (the lab's
 * charts, a large import) does now and then, made constant so that memory freed too early shows at once.
 */
public final class CollectingGarbage implements AutoCloseable {
    private final Thread thread;
    private volatile boolean stop;

    private CollectingGarbage() {
        thread = new Thread(() -> {
            while (!stop) {
                System.gc();
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "collecting-garbage");
        thread.setDaemon(true);
        thread.start();
    }

    /** Starts collecting. */
    public static CollectingGarbage start() {
        return new CollectingGarbage();
    }

    @Override
    public void close() throws InterruptedException {
        stop = true;
        thread.join();
    }
}
