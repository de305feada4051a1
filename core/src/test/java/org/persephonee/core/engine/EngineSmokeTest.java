package org.persephonee.core.engine;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EngineSmokeTest {
    @Test
    void forwardAndBackwardRunOnTheBundledLibtorchWithNothingDownloaded() {
        EngineSmoke.Report r = EngineSmoke.run();
        assertTrue(r.engine().startsWith("PyTorch"), r.engine());
        assertEquals("true", System.getProperty("ai.djl.offline"));
        assertTrue(r.loss() > 0 && Float.isFinite(r.loss()), "loss " + r.loss());
        assertTrue(r.gradientNorm() > 0, "backward produced no gradient");
    }
}
