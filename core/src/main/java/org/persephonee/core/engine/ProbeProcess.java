package org.persephonee.core.engine;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One {@link EngineProbe} run in a child process for {@link EngineGuard}: the command that starts it, the
 * environment that sets its oneDNN cap and repeats, the timeout, and reading back from its output the outcome,
 * the instruction set and version oneDNN reported, and the last lines when it ended without a result.
 */
final class ProbeProcess {
    /** Probe runs that must all pass before the engine runs uncapped. */
    static final int UNCAPPED_REPEATS = 5;

    private ProbeProcess() { }

    /** Runs the probe in a child process of this application with the given cap (or none). */
    static EngineGuard.ProbeRun run(String cap) {
        List<String> cmd = command();
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        env.remove(EngineGuard.ISA_ENV);
        if (cap != null) {
            env.put(EngineGuard.ISA_ENV, cap);
        }
        // uncapped, the fault may hide in a single run: several must pass before nothing is capped
        env.put(EngineProbe.REPEATS_ENV, cap == null ? String.valueOf(UNCAPPED_REPEATS) : "1");
        env.put("ONEDNN_VERBOSE", "1");
        env.put("DJL_OFFLINE", "true");
        env.put("OPT_OUT_TRACKING", "true");
        env.remove(EngineGuard.LEGACY_ISA_ENV);
        List<String> lines = Collections.synchronizedList(new ArrayList<>());
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            return new EngineGuard.ProbeRun(cap, failed("probe process could not start: " + e.getMessage()), null,
                    null);
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
            return new EngineGuard.ProbeRun(cap, failed("probe process interrupted"), null, null);
        }
        synchronized (lines) {
            return read(cap, lines, finished);
        }
    }

    /** The run as the child's output tells it: its result line, oneDNN's info lines, else its last lines. */
    private static EngineGuard.ProbeRun read(String cap, List<String> lines, boolean finished) {
        String isa = null;
        String version = null;
        EngineProbe.Outcome outcome = null;
        List<String> tail = new ArrayList<>();
        for (String line : lines) {
            if (line.startsWith(EngineProbe.RESULT_PREFIX)) {
                outcome = EngineGuard.GSON.fromJson(line.substring(EngineProbe.RESULT_PREFIX.length()),
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
        if (outcome == null && !finished) {
            return new EngineGuard.ProbeRun(cap, failed("probe process timed out after 120 s"), isa, version);
        }
        if (outcome == null) {
            outcome = failed("probe process ended without a result: " + String.join(" | ", tail));
        }
        return new EngineGuard.ProbeRun(cap, outcome, isa, version);
    }

    /** A failed outcome with no steps run, for a probe process that gave no result. */
    private static EngineProbe.Outcome failed(String detail) {
        return new EngineProbe.Outcome(false, 0, EngineProbe.STEPS, Double.NaN, List.of(), detail, 0);
    }

    /**
     * The command that starts a probe process: this JVM's {@code java} with this classpath, or, in an app
     * image whose runtime has no {@code java} binary, this process's own launcher with {@code --engine-probe}.
     */
    static List<String> command() {
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
}
