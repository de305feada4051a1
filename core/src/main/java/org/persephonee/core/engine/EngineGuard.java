package org.persephonee.core.engine;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.reflect.TypeToken;
import org.persephonee.core.util.AtomicFiles;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

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
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues()
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
        Path cacheFile = cacheFile();
        Map<String, Verdict> cache = readCache(cacheFile);
        String prefix = cpuModel() + "|" + String.join(",", cpuFlags()) + "|";
        if (cache.keySet().removeIf(k -> k.startsWith(prefix))) {
            try {
                AtomicFiles.writeString(cacheFile, GSON.toJson(cache));
            } catch (IOException | RuntimeException e) {
                System.err.println("persephonee: could not update " + cacheFile + ": " + e.getMessage());
            }
        }
    }

    /** The verdict already decided in this process, if any. */
    public static Optional<Verdict> current() {
        return Optional.ofNullable(verdict);
    }

    private static Verdict decide() {
        String model = cpuModel();
        List<String> flags = cpuFlags();
        if (Boolean.getBoolean(PROBE_PROCESS)) {
            return new Verdict("unchecked", System.getenv(ISA_ENV), "probe process", model, flags, LIBTORCH,
                    List.of(), false, Instant.now().toString(), 0);
        }
        for (String name : List.of(ISA_ENV, LEGACY_ISA_ENV)) {
            String userCap = System.getenv(name);
            if (userCap != null && !userCap.isBlank()) {
                return new Verdict("user-cap", userCap, name + "=" + userCap + " was set outside; respected "
                        + "(checked in process only)", model, flags, LIBTORCH, List.of(), false,
                        Instant.now().toString(), 0);
            }
        }
        String mode = System.getProperty(SELF_CHECK, "on");
        if (mode.equals("off")) {
            return new Verdict("unchecked", null, "self-check turned off (-D" + SELF_CHECK + "=off)", model,
                    flags, LIBTORCH, List.of(), false, Instant.now().toString(), 0);
        }
        boolean forceFail = mode.equals("force-fail");
        String key = model + "|" + String.join(",", flags) + "|libtorch " + LIBTORCH + "|probe " + PROBE_VERSION
                + (forceFail ? "|forced" : "");
        Path cacheFile = cacheFile();
        Map<String, Verdict> cache = readCache(cacheFile);
        Verdict hit = cache.get(key);
        if (hit != null) {
            return hit.fromCache();
        }
        Verdict fresh = check(model, flags, forceFail);
        // a verdict is kept when the probes really ran (a crash counts as a failure) and the CPU is known
        boolean known = !flags.isEmpty() && !model.equals(System.getProperty("os.arch"));
        if (known && !"unchecked".equals(fresh.status())) {
            cache.put(key, fresh);
            try {
                Files.createDirectories(cacheFile.toAbsolutePath().getParent());
                AtomicFiles.writeString(cacheFile, GSON.toJson(cache));
            } catch (IOException | RuntimeException e) {
                System.err.println("persephonee: could not save the engine self-check verdict to " + cacheFile
                        + ": " + e.getMessage());
            }
        }
        return fresh;
    }

    /** Runs the probes in child processes now (uncapped first, then each cap) and returns the verdict. */
    static Verdict check(String model, List<String> flags, boolean forceFail) {
        long t0 = System.nanoTime();
        List<ProbeRun> runs = new ArrayList<>();
        ProbeRun plain = probeChild(null);
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
            ProbeRun capped = probeChild(cap);
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

    /** Probe runs that must all pass before the engine runs uncapped. */
    static final int UNCAPPED_REPEATS = 5;

    /** Runs the probe in a child process of this application with the given cap (or none). */
    static ProbeRun probeChild(String cap) {
        List<String> cmd = probeCommand();
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        env.remove(ISA_ENV);
        if (cap != null) {
            env.put(ISA_ENV, cap);
        }
        // uncapped, the fault may hide in a single run: several must pass before nothing is capped
        env.put(EngineProbe.REPEATS_ENV, cap == null ? String.valueOf(UNCAPPED_REPEATS) : "1");
        env.put("ONEDNN_VERBOSE", "1");
        env.put("DJL_OFFLINE", "true");
        env.put("OPT_OUT_TRACKING", "true");
        env.remove(LEGACY_ISA_ENV);
        List<String> lines = java.util.Collections.synchronizedList(new ArrayList<>());
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            return new ProbeRun(cap, new EngineProbe.Outcome(false, 0, EngineProbe.STEPS, Double.NaN, List.of(),
                    "probe process could not start: " + e.getMessage(), 0), null, null);
        }
        // read on a thread of its own, so that the timeout below holds even when the child hangs
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (!line.startsWith("onednn_verbose") || line.contains(",info,")) {
                        lines.add(line);
                    }
                }
            } catch (IOException ignored) {
                // the child ended or was killed: what was read is kept
            }
        }, "engine-probe-reader");
        reader.setDaemon(true);
        reader.start();
        boolean finished;
        try {
            finished = p.waitFor(120, TimeUnit.SECONDS);
            if (!finished) {
                p.destroyForcibly();
            }
            reader.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            return new ProbeRun(cap, new EngineProbe.Outcome(false, 0, EngineProbe.STEPS, Double.NaN, List.of(),
                    "probe process interrupted", 0), null, null);
        }
        String isa = null;
        String version = null;
        EngineProbe.Outcome outcome = null;
        List<String> tail = new ArrayList<>();
        synchronized (lines) {
            for (String line : lines) {
                if (line.startsWith(EngineProbe.RESULT_PREFIX)) {
                    outcome = GSON.fromJson(line.substring(EngineProbe.RESULT_PREFIX.length()),
                            EngineProbe.Outcome.class);
                } else if (line.contains(",info,cpu,isa:")) {
                    isa = line.substring(line.indexOf(",info,cpu,isa:") + 14).trim();
                } else if (line.contains(",info,oneDNN ")) {
                    version = line.substring(line.indexOf(",info,oneDNN ") + 13).trim();
                } else if (!line.startsWith("onednn_verbose") && !line.contains("NNPACK")) {
                    tail.add(line);
                    if (tail.size() > 5) {
                        tail.remove(0);
                    }
                }
            }
        }
        if (outcome == null && !finished) {
            return new ProbeRun(cap, new EngineProbe.Outcome(false, 0, EngineProbe.STEPS, Double.NaN, List.of(),
                    "probe process timed out after 120 s", 0), isa, version);
        }
        if (outcome == null) {
            outcome = new EngineProbe.Outcome(false, 0, EngineProbe.STEPS, Double.NaN, List.of(),
                    "probe process ended without a result: " + String.join(" | ", tail), 0);
        }
        return new ProbeRun(cap, outcome, isa, version);
    }

    /**
     * The command that starts a probe process: this JVM's {@code java} with this classpath, or, in an app
     * image whose runtime has no {@code java} binary, this process's own launcher with {@code --engine-probe}.
     */
    static List<String> probeCommand() {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(java)) {
            cmd.add(java.toString());
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.add("-Dai.djl.offline=true");
            cmd.add("-DOPT_OUT_TRACKING=true");
            cmd.add("-Xss4m");
            cmd.add(EngineProbe.class.getName());
        } else {
            cmd.add(ProcessHandle.current().info().command().orElse("persephonee"));
            cmd.add("--engine-probe");
        }
        return cmd;
    }

    static Path cacheFile() {
        String p = System.getProperty(CACHE);
        return p != null ? Path.of(p) : Path.of(System.getProperty("user.home"), ".persephonee",
                "engine-check.json");
    }

    private static Map<String, Verdict> readCache(Path file) {
        try {
            if (Files.isRegularFile(file)) {
                Map<String, Verdict> m = GSON.fromJson(Files.readString(file),
                        new TypeToken<LinkedHashMap<String, Verdict>>() { }.getType());
                if (m != null) {
                    m.values().removeIf(v -> v == null || v.status() == null || v.probes() == null);
                    return m;
                }
            }
        } catch (IOException | RuntimeException e) {
            System.err.println("persephonee: ignoring an unreadable engine self-check cache " + file + ": "
                    + e.getMessage());
        }
        return new LinkedHashMap<>();
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
