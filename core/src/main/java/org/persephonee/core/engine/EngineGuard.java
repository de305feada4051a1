package org.persephonee.core.engine;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Decides, once per process and before libtorch loads, whether the engine's fast CPU kernels can be trusted
 * on this CPU, and caps oneDNN's instruction set when they cannot.
 *
 * <p>libtorch 2.7.1's oneDNN AVX-512 convolution backward returns NaN or silently wrong gradients on AMD
 * Zen 5 (AVX-512 with VP2INTERSECT/BF16). oneDNN fixes its instruction set when it creates its first
 * primitive, so the check runs the {@link EngineProbe} in a child process (uncapped, then capped) and this
 * process starts its engine with the cap that the probe proved correct. The verdict is cached per CPU model,
 * CPU flags and libtorch version; the cap is set with {@code setenv} through JNA, so it works in every entry
 * point (launcher script, app image, test JVMs) without an environment variable set outside.
 */
public final class EngineGuard {
    /** System property set in a probe process (its engine must not run the guard again). */
    static final String PROBE_PROCESS = "persephonee.engine.probeProcess";
    /** System property: {@code force-fail} treats the uncapped probe as failed (tests), {@code off} skips. */
    public static final String SELF_CHECK = "persephonee.engine.selfcheck";
    /** System property: the verdict cache file (default {@code ~/.persephonee/engine-check.json}). */
    public static final String CACHE = "persephonee.engine.cache";
    /** The oneDNN environment variable that caps its instruction set. */
    public static final String ISA_ENV = "ONEDNN_MAX_CPU_ISA";
    /** oneDNN's older name for the same cap, still honoured by it. */
    static final String LEGACY_ISA_ENV = "DNNL_MAX_CPU_ISA";
    /** Caps tried in order when the uncapped engine fails the probe. */
    static final List<String> CAPS = List.of("AVX2", "SSE41");
    static final String LIBTORCH = "2.7.1";
    /** Bump when the probe changes so that cached verdicts are re-checked. */
    static final int PROBE_VERSION = 2;
    /** Reads and writes verdicts, the cache and the probe's result line (NaN kept as NaN). */
    static final Gson GSON = new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues()
            .disableHtmlEscaping().create();

    private static volatile Verdict verdict;

    private EngineGuard() { }

    /**
     * One probe run in a child process.
     *
     * @param cap the oneDNN cap it ran with, {@code null} for none
     * @param outcome what the probe saw ({@code passed=false} with a detail when the process failed)
     * @param onednnIsa the instruction set oneDNN reported using, {@code null} when it printed none
     * @param onednnVersion oneDNN's version line, {@code null} when it printed none
     */
    public record ProbeRun(String cap, EngineProbe.Outcome outcome, String onednnIsa, String onednnVersion) {
        /** Whether the probe process could not run (as opposed to running and failing, or crashing). */
        boolean machineryFailed() {
            String d = outcome.detail();
            return d != null && (d.startsWith("probe process could not start") || d.startsWith(
                    "probe process interrupted") || d.startsWith("probe process timed out"));
        }
    }

    /**
     * The guard's decision for this process.
     *
     * @param status {@code ok} (no cap needed), {@code capped}, {@code user-cap} (set outside, respected),
     *               {@code unchecked} (self-check off) or {@code unsafe} (no cap passed)
     * @param cap the oneDNN cap in force, {@code null} for none
     * @param reason one sentence for the user
     * @param cpuModel the CPU model name
     * @param cpuFlags the CPU flags that matter to the engine's kernels
     * @param libtorch libtorch version
     * @param probes the child-process probes behind the verdict
     * @param cached whether the verdict came from the cache
     * @param checkedAt when the probes ran
     * @param checkSeconds how long the probes took
     */
    public record Verdict(String status, String cap, String reason, String cpuModel, List<String> cpuFlags,
                          String libtorch, List<ProbeRun> probes, boolean cached, String checkedAt,
                          double checkSeconds) {
        /** The same verdict marked as read from the cache. */
        Verdict fromCache() {
            return new Verdict(status, cap, reason, cpuModel, cpuFlags, libtorch, probes, true, checkedAt,
                    checkSeconds);
        }

        /** oneDNN's version as the probe process reported it, or "unknown". */
        public String onednnVersion() {
            return probes.stream().map(ProbeRun::onednnVersion).filter(v -> v != null).findFirst()
                    .orElse("unknown");
        }

        /** The instruction set oneDNN used in the probe that ran with the cap now in force, or "unknown". */
        public String onednnIsa() {
            return probes.stream().filter(p -> java.util.Objects.equals(p.cap(), cap)).map(ProbeRun::onednnIsa)
                    .filter(v -> v != null).findFirst().orElse("unknown");
        }
    }

    /** The verdict for this process, deciding it (and applying the cap) on first call. Idempotent. */
    public static Verdict prepare() {
        Verdict v = verdict;
        if (v == null) {
            synchronized (EngineGuard.class) {
                if (verdict == null) {
                    // OpenMP threads sleep at once instead of spinning when they run out of work: spinning
                    // threads steal the core from the one that still works when other programs share the CPU
                    if (nativeGetenv("OMP_WAIT_POLICY") == null) {
                        setenv("OMP_WAIT_POLICY", "PASSIVE");
                    }
                    verdict = decide();
                    if (verdict.cap() != null && !"user-cap".equals(verdict.status())) {
                        setenv(ISA_ENV, verdict.cap());
                    }
                }
                v = verdict;
            }
        }
        return v;
    }

    /**
     * Drops this CPU's cached verdict, so that the next start probes again (called when the engine fails its
     * in-process check despite the verdict).
     */
    static void forgetCachedVerdict() {
        VerdictCache.forget(cpuModel(), cpuFlags());
    }

    /** The verdict already decided in this process, if any. */
    public static Optional<Verdict> current() {
        return Optional.ofNullable(verdict);
    }

    /**
     * Whether {@link #prepare()} will decide without running probe processes (a verdict already made or cached for
     * this CPU, a cap set outside, or the check turned off): the engine then loads within a second. The lab waits
     * for such a load before it builds its panes, and not for the seconds of a first check.
     */
    public static boolean decidesQuickly() {
        if (verdict != null || Boolean.getBoolean(PROBE_PROCESS)
                || "off".equals(System.getProperty(SELF_CHECK, "on"))) {
            return true;
        }
        if (userCapVariable() != null) {
            return true;
        }
        boolean forceFail = "force-fail".equals(System.getProperty(SELF_CHECK, "on"));
        return VerdictCache.read(VerdictCache.file()).containsKey(VerdictCache.key(cpuModel(), cpuFlags(), forceFail));
    }

    /** The environment variable that sets oneDNN's cap outside (the new name first), or null when none does. */
    private static String userCapVariable() {
        for (String name : List.of(ISA_ENV, LEGACY_ISA_ENV)) {
            String userCap = System.getenv(name);
            if (userCap != null && !userCap.isBlank()) {
                return name;
            }
        }
        return null;
    }

    private static Verdict decide() {
        String model = cpuModel();
        List<String> flags = cpuFlags();
        if (Boolean.getBoolean(PROBE_PROCESS)) {
            return new Verdict("unchecked", System.getenv(ISA_ENV), "probe process", model, flags, LIBTORCH,
                    List.of(), false, Instant.now().toString(), 0);
        }
        String name = userCapVariable();
        if (name != null) {
            String userCap = System.getenv(name);
            return new Verdict("user-cap", userCap, name + "=" + userCap + " was set outside; respected "
                    + "(checked in process only)", model, flags, LIBTORCH, List.of(), false,
                    Instant.now().toString(), 0);
        }
        String mode = System.getProperty(SELF_CHECK, "on");
        if (mode.equals("off")) {
            return new Verdict("unchecked", null, "self-check turned off (-D" + SELF_CHECK + "=off)", model,
                    flags, LIBTORCH, List.of(), false, Instant.now().toString(), 0);
        }
        boolean forceFail = mode.equals("force-fail");
        String key = VerdictCache.key(model, flags, forceFail);
        Path cacheFile = VerdictCache.file();
        Map<String, Verdict> cache = VerdictCache.read(cacheFile);
        Verdict hit = cache.get(key);
        if (hit != null) {
            return hit.fromCache();
        }
        Verdict fresh = check(model, flags, forceFail);
        // a verdict is kept when the probes really ran (a crash counts as a failure) and the CPU is known
        boolean known = !flags.isEmpty() && !model.equals(System.getProperty("os.arch"));
        if (known && !"unchecked".equals(fresh.status())) {
            cache.put(key, fresh);
            VerdictCache.save(cacheFile, cache);
        }
        return fresh;
    }

    /** Runs the probes in child processes now (uncapped first, then each cap) and returns the verdict. */
    static Verdict check(String model, List<String> flags, boolean forceFail) {
        long t0 = System.nanoTime();
        List<ProbeRun> runs = new ArrayList<>();
        ProbeRun plain = ProbeProcess.run(null);
        if (forceFail) {
            EngineProbe.Outcome o = plain.outcome();
            plain = new ProbeRun(null, new EngineProbe.Outcome(false, o.finiteSteps(), o.steps(), o.maxRelDiff(),
                    o.losses(), "forced to fail (-D" + SELF_CHECK + "=force-fail); actual: " + o.detail(),
                    o.seconds()), plain.onednnIsa(), plain.onednnVersion());
        }
        runs.add(plain);
        String now = Instant.now().toString();
        if (plain.machineryFailed()) {
            // the probe could not run at all (no process, interrupted, timed out): that says nothing about the
            // kernels; the engine's own in-process check decides instead
            return new Verdict("unchecked", null, "the self-check could not run a probe process ("
                    + plain.outcome().detail() + "); the engine checks itself in process", model, flags, LIBTORCH,
                    runs, false, now, secs(t0));
        }
        if (plain.outcome().passed()) {
            return new Verdict("ok", null, "the engine's kernels pass the self-check on this CPU ("
                    + plain.outcome().detail() + ")", model, flags, LIBTORCH, runs, false, now, secs(t0));
        }
        for (String cap : CAPS) {
            ProbeRun capped = ProbeProcess.run(cap);
            runs.add(capped);
            if (capped.outcome().passed()) {
                return new Verdict("capped", cap, "the engine's fast kernels fail the self-check on this CPU ("
                        + plain.outcome().detail() + "); oneDNN is capped to " + cap + ", which passes ("
                        + capped.outcome().detail() + ")", model, flags, LIBTORCH, runs, false, now, secs(t0));
            }
        }
        String last = CAPS.get(CAPS.size() - 1);
        return new Verdict("unsafe", last, "the engine fails its self-check on this CPU with and without an "
                + "instruction-set cap (" + plain.outcome().detail() + "); results may be wrong", model, flags,
                LIBTORCH, runs, false, now, secs(t0));
    }

    private static double secs(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    /** The CPU model name from {@code /proc/cpuinfo}, or the OS architecture where there is none. */
    public static String cpuModel() {
        for (String line : cpuinfo()) {
            if (line.startsWith("model name")) {
                return line.substring(line.indexOf(':') + 1).trim();
            }
        }
        return System.getProperty("os.arch");
    }

    /** The CPU flags that select the engine's kernels (AVX, AVX-512, AMX, FMA, F16C), sorted. */
    public static List<String> cpuFlags() {
        TreeSet<String> out = new TreeSet<>();
        for (String line : cpuinfo()) {
            if (line.startsWith("flags")) {
                for (String f : line.substring(line.indexOf(':') + 1).trim().split("\\s+")) {
                    String lf = f.toLowerCase(Locale.ROOT);
                    if (lf.startsWith("avx") || lf.startsWith("amx") || lf.equals("fma") || lf.equals("f16c")
                            || lf.startsWith("sse4")) {
                        out.add(lf);
                    }
                }
                break;
            }
        }
        return new ArrayList<>(out);
    }

    private static List<String> cpuinfo() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo"));
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
    }

    /** Sets a variable in the native process environment (which libtorch's {@code getenv} reads; Java's own
     * copy is fixed at start); must happen before libtorch reads it. */
    static void setenv(String name, String value) {
        Libc c = Libc.get();
        try {
            if (c == null || c.setenv(name, value, 1) != 0) {
                System.err.println("persephonee: could not set " + name + "=" + value);
            }
        } catch (LinkageError | RuntimeException e) {
            System.err.println("persephonee: could not set " + name + "=" + value + " (" + e.getMessage() + ")");
        }
    }

    /** The value of a variable in the native process environment (what libtorch sees), or null. */
    public static String nativeGetenv(String name) {
        Libc c = Libc.get();
        try {
            return c != null ? c.getenv(name) : System.getenv(name);
        } catch (LinkageError | RuntimeException e) {
            return System.getenv(name);
        }
    }

    /** The verdict as pretty JSON. */
    public static String toJson(Object o) {
        return GSON.toJson(o);
    }
}
