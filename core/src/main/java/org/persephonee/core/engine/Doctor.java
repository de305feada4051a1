package org.persephonee.core.engine;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What a user pastes into a bug report: CPU, engine, the self-check's verdict, threads, folders, display. */
public final class Doctor {
    private Doctor() { }

    /**
     * The report.
     *
     * @param verdict the engine guard's verdict for this process
     * @param capInForce the oneDNN cap in this process's native environment, {@code null} for none
     * @param inProcessCheck the self-check run in this process after the engine started ({@code null}: not run)
     * @param engine engine name and version
     * @param onednnVersion oneDNN version as its probe process reported it
     * @param onednnIsa the instruction set oneDNN used with the cap in force
     * @param cores processors the JVM sees
     * @param intraOpThreads libtorch intra-op threads of the thread that made the report (-1: engine not started)
     * @param interOpThreads libtorch inter-op threads
     * @param loadAverage the one-minute load average, -1 where unknown
     * @param environment engine-related variables as the native engine sees them
     * @param java Java version and vendor
     * @param os operating system and architecture
     * @param engineCache where DJL keeps the native libraries
     * @param verdictCache where the self-check verdict is cached
     * @param display the display the lab would use, or "none"
     */
    public record Report(EngineGuard.Verdict verdict, String capInForce, EngineProbe.Outcome inProcessCheck,
                         String engine, String onednnVersion, String onednnIsa, int cores, int intraOpThreads,
                         int interOpThreads, double loadAverage, Map<String, String> environment, String java,
                         String os, String engineCache, String verdictCache, String display) { }

    /** Starts the engine (running the guard) and gathers the report. */
    public static Report report() {
        Engine e = null;
        String engineText;
        try {
            e = Engines.pytorch();
            engineText = e.getEngineName() + " " + e.getVersion();
        } catch (IllegalStateException ex) {
            // the report matters most when the engine refuses to start
            engineText = "not started: " + ex.getMessage();
        }
        EngineGuard.Verdict v = EngineGuard.prepare();
        Map<String, String> env = new LinkedHashMap<>();
        for (String k : List.of(EngineGuard.ISA_ENV, "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT",
                "LD_PRELOAD", "DJL_OFFLINE", "OPT_OUT_TRACKING")) {
            String val = EngineGuard.nativeGetenv(k);
            if (val != null) {
                env.put(k, val);
            }
        }
        String display = System.getenv("WAYLAND_DISPLAY") != null ? "wayland " + System.getenv("WAYLAND_DISPLAY")
                : System.getenv("DISPLAY") != null ? "X11 " + System.getenv("DISPLAY") : "none";
        return new Report(v, EngineGuard.nativeGetenv(EngineGuard.ISA_ENV), Engines.inProcessCheck().orElse(null),
                engineText, v.onednnVersion(), v.onednnIsa(),
                Runtime.getRuntime().availableProcessors(), e == null ? -1 : JniUtils.getNumThreads(),
                e == null ? -1 : JniUtils.getNumInteropThreads(),
                loadAverage(), env, System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + ")",
                System.getProperty("os.name") + " " + System.getProperty("os.version") + " "
                        + System.getProperty("os.arch"), ai.djl.util.Utils.getEngineCacheDir("pytorch").toString(),
                VerdictCache.file().toAbsolutePath().toString(), display);
    }

    private static double loadAverage() {
        try {
            String s = Files.readString(Path.of("/proc/loadavg")).trim();
            return Double.parseDouble(s.split("\\s+")[0]);
        } catch (Exception ex) {
            return -1;
        }
    }

    /** The report as aligned text lines. */
    public static List<String> lines(Report r) {
        List<String> out = new ArrayList<>();
        EngineGuard.Verdict v = r.verdict();
        out.add("engine self-check: " + v.status().toUpperCase(java.util.Locale.ROOT)
                + (v.cached() ? " (cached " + v.checkedAt() + ")" : String.format(" (checked now in %.1f s)",
                v.checkSeconds())));
        out.add("  " + v.reason());
        out.add("oneDNN cap in force: " + (r.capInForce() == null ? "none" : r.capInForce())
                + "   oneDNN " + r.onednnVersion() + ", ISA used: " + r.onednnIsa());
        if (r.inProcessCheck() != null) {
            out.add("in-process check:   " + (r.inProcessCheck().passed() ? "passed" : "FAILED") + " - "
                    + r.inProcessCheck().detail());
        }
        for (EngineGuard.ProbeRun p : v.probes()) {
            out.add(String.format("  probe %-6s %s - %s", p.cap() == null ? "uncapped" : p.cap(),
                    p.outcome().passed() ? "passed" : "failed", p.outcome().detail()));
        }
        out.add("CPU:                " + v.cpuModel() + ", " + r.cores() + " cores, load " + r.loadAverage());
        out.add("CPU flags:          " + String.join(" ", v.cpuFlags()));
        out.add("engine:             " + r.engine() + " (libtorch " + v.libtorch() + "), threads intra-op "
                + r.intraOpThreads() + ", inter-op " + r.interOpThreads());
        r.environment().forEach((k, val) -> out.add(String.format("  %-17s %s", k, val)));
        out.add("Java:               " + r.java());
        out.add("OS:                 " + r.os());
        out.add("engine cache:       " + r.engineCache());
        out.add("verdict cache:      " + r.verdictCache());
        out.add("display:            " + r.display());
        return out;
    }

    /** Prints the report as one JSON line after {@code PERSEPHONEE-DOCTOR } (used by tests in a child JVM). */
    public static void main(String[] args) {
        Engines.configureOffline();
        String json = new com.google.gson.GsonBuilder().serializeSpecialFloatingPointValues().create()
                .toJson(report());
        System.out.flush();
        System.out.println("PERSEPHONEE-DOCTOR " + json);
        System.out.flush();
        System.exit(0);
    }
}
