package org.persephonee.core.engine;

import ai.djl.engine.Engine;

/**
 * Starts DJL's PyTorch engine offline: libtorch comes from the {@code pytorch-native-cpu} jar on the
 * classpath, nothing is downloaded and usage tracking is off.
 */
public final class Engines {
    private static volatile Engine engine;

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

    /** The PyTorch engine, started offline on first use. */
    public static Engine pytorch() {
        Engine e = engine;
        if (e == null) {
            synchronized (Engines.class) {
                if (engine == null) {
                    configureOffline();
                    engine = Engine.getEngine("PyTorch");
                }
                e = engine;
            }
        }
        return e;
    }

    /** Seeds the engine's random generator (parameter initialisation, dropout). */
    public static void seed(long seed) {
        pytorch().setRandomSeed((int) seed);
    }
}
