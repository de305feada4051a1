package org.persephonee.core.engine;

import ai.djl.engine.Engine;

/**
 * Starts DJL's PyTorch engine offline: libtorch comes from the {@code pytorch-native-cpu} jar on the
 * classpath, nothing is downloaded and usage tracking is off.
 */
public final class Engines {
    private static volatile Engine engine;
    private static volatile EngineProbe.Outcome inProcess;

    private Engines() { }

    /** Sets the offline properties (idempotent); call before any DJL class loads an engine. */
    public static void configureOffline() {
        setIfAbsent("ai.djl.offline", "true");
        setIfAbsent("OPT_OUT_TRACKING", "true");
        setIfAbsent("ai.djl.default_engine", "PyTorch");
        // mkldnn crashes on these machines (SIGFPE); keep it off unless someone insists
        setIfAbsent("ai.djl.pytorch.use_mkldnn", "false");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    /**
     * The PyTorch engine, started offline on first use. The first call decides the oneDNN instruction-set cap
     * ({@link EngineGuard#prepare()}) before libtorch loads, then runs the {@link EngineProbe} in this process
     * and refuses to hand out an engine that fails it.
     *
     * @throws IllegalStateException when the engine computes wrong numbers on this CPU even with the cap
     */
    public static Engine pytorch() {
        Engine e = engine;
        if (e == null) {
            synchronized (Engines.class) {
                if (engine == null) {
                    configureOffline();
                    EngineGuard.Verdict v = EngineGuard.prepare();
                    Engine started = Engine.getEngine("PyTorch");
                    if (!"unchecked".equals(v.status())) {
                        EngineProbe.Outcome o = EngineProbe.run();
                        inProcess = o;
                        if (!o.passed()) {
                            throw new IllegalStateException("the native engine computes wrong numbers on this CPU ("
                                    + v.cpuModel() + ", oneDNN cap " + (v.cap() == null ? "none" : v.cap())
                                    + "): " + o.detail() + ". Run 'persephonee doctor' and include its output "
                                    + "in a bug report.");
                        }
                    }
                    engine = started;
                }
                e = engine;
            }
        }
        return e;
    }

    /** The self-check run in this process after the engine started, if it ran. */
    public static java.util.Optional<EngineProbe.Outcome> inProcessCheck() {
        return java.util.Optional.ofNullable(inProcess);
    }

    /**
     * Sets libtorch's intra-op thread count for the whole process and returns the previous one (restore it in
     * a finally block). Batch-1 timings run on one thread: tiny per-image convolutions gain nothing from a
     * second thread, and on a busy machine two OpenMP threads stall each other (measured here: 0.2 ms per
     * stage on one thread, 15-60 ms on two while another process kept one core busy).
     */
    public static int setThreads(int threads) {
        pytorch();
        int before = ai.djl.pytorch.jni.JniUtils.getNumThreads();
        if (threads != before) {
            ai.djl.pytorch.jni.JniUtils.setNumThreads(threads);
        }
        return before;
    }

    /** Seeds the engine's random generator (parameter initialisation, dropout). */
    public static void seed(long seed) {
        pytorch().setRandomSeed((int) seed);
    }
}
