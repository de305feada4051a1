package org.persephonee.core.engine;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReferenceArray;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Work spread over engine threads runs on every thread as on the thread that loaded the engine. */
class EngineWorkersTest {

    @Test
    void noWorkerKeepsGraphsOfItsForwardPasses() {
        Engines.pytorch();
        // libtorch's gradient recording is per thread: on, a forward through trainable weights (a fold's head
        // predicting) keeps a graph and its inputs for a backward pass that never comes
        AtomicReferenceArray<Boolean> recording = new AtomicReferenceArray<>(2);
        EngineWorkers.run("test-worker", 2, new AtomicBoolean(),
                g -> recording.set(g, ai.djl.pytorch.jni.JniUtils.isGradMode()));
        assertEquals(false, recording.get(0), "the calling thread (it loaded the engine)");
        assertEquals(false, recording.get(1), "the worker thread");
    }
}
