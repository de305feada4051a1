package org.persephonee.core.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.IntConsumer;

/**
 * Independent pieces of engine work on several Java threads, each running the engine on one thread of its own.
 * The pieces of a cross-fitting's folds or of a frozen pass's batches share nothing, and libtorch's OpenMP threads
 * wait for each other at every operation: on the sample backbone a frozen pass over 240 photos took 140 ms as
 * batches of 64 on two engine threads and 92 ms as batches on two Java threads of one engine thread each.
 */
public final class EngineWorkers {
    private EngineWorkers() { }

    /** One batch of a pass: the items {@code start .. start + size - 1}. */
    @FunctionalInterface
    public interface Batch {
        void run(int start, int size);
    }

    /**
     * Runs items {@code from .. to - 1} in batches of {@code batch} that start at {@code from} (the same batches
     * whichever thread runs them), on as many threads as the engine has now ({@link Engines#threadsForBatchWork}
     * makes that one on a busy machine), each running the engine on one; the engine's threads come back after.
     * Each batch must write only its own items.
     *
     * @throws CancellationException when {@code cancelled} says so before a batch
     */
    public static void batches(String name, int from, int to, int batch, BooleanSupplier cancelled, Batch body) {
        int nb = (to - from + batch - 1) / batch;
        if (nb <= 0) {
            return;
        }
        int threads = Engines.setThreads(1);
        try {
            AtomicInteger next = new AtomicInteger();
            AtomicBoolean abort = new AtomicBoolean();
            run(name, Math.min(threads, nb), abort, g -> {
                if (g > 0) {
                    Engines.setThreads(1);
                }
                for (int k = next.getAndIncrement(); k < nb && !abort.get(); k = next.getAndIncrement()) {
                    if (cancelled.getAsBoolean()) {
                        throw new CancellationException("cancelled");
                    }
                    int start = from + k * batch;
                    body.run(start, Math.min(batch, to - start));
                }
            });
        } finally {
            Engines.setThreads(threads);
        }
    }

    /**
     * Runs {@code worker} 0 on this thread and 1 .. {@code w - 1} on threads of their own; a worker that fails sets
     * {@code abort} (which the others are to watch), and this thread returns only when every other has stopped (the
     * caller may then close what they used), throwing the error that stopped the others rather than the cancels it
     * caused.
     *
     * @param name the threads' name
     */
    public static void run(String name, int w, AtomicBoolean abort, IntConsumer worker) {
        if (w <= 1) {
            worker.accept(0);
            return;
        }
        ExecutorService pool = Executors.newFixedThreadPool(w - 1, r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
        List<Future<?>> others = new ArrayList<>();
        Throwable failed = null;
        try {
            for (int g = 1; g < w; g++) {
                int at = g;
                others.add(pool.submit(() -> {
                    try {
                        // libtorch records gradients per thread, on by default: the thread that loaded the engine
                        // has it off (DJL turns it off there), a new one would record a graph at every forward of a
                        // head with trainable weights (the folds' predictions), 15-20 % slower and never used; the
                        // workers' own training computes its gradients by hand, and a DJL gradient collector turns
                        // recording on for its scope
                        ai.djl.pytorch.jni.JniUtils.setGradMode(false);
                        worker.accept(at);
                    } catch (Throwable e) {
                        abort.set(true);
                        throw e;
                    }
                    return null;
                }));
            }
            worker.accept(0);
        } catch (Throwable e) {
            abort.set(true);
            failed = e;
        } finally {
            boolean interrupted = false;
            for (Future<?> f : others) {
                while (true) {
                    try {
                        f.get();
                        break;
                    } catch (ExecutionException e) {
                        // the error that stopped the others, not the cancels it caused
                        Throwable cause = e.getCause();
                        if (failed == null || failed instanceof CancellationException
                                && !(cause instanceof CancellationException)) {
                            failed = cause;
                        }
                        break;
                    } catch (InterruptedException e) {
                        abort.set(true);
                        interrupted = true;
                    }
                }
            }
            pool.shutdown();
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        if (failed instanceof RuntimeException re) {
            throw re;
        }
        if (failed instanceof Error err) {
            throw err;
        }
        if (failed != null) {
            throw new IllegalStateException(failed);
        }
    }
}
