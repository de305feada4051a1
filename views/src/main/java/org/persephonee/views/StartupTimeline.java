package org.persephonee.views;

import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Milestones of the lab's start, in milliseconds since the process started (window shown, first frame, backbone
 * graph, images, last run), with the longest FX-thread stall so far. Printed to standard error as they happen when
 * {@code -Dpersephonee.startupLog=true}, together with what the FX thread did in each stall.
 */
public final class StartupTimeline {
    /** The JVM's own record of its start (the process's start time from /proc drifts by up to a second in VMs). */
    private static final Instant START = Instant.ofEpochMilli(
            java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime());
    private static final boolean LOG = Boolean.getBoolean("persephonee.startupLog");
    /** Stalls longer than this are explained in the log ({@code -Dpersephonee.startupLog.stallMs}, default 100). */
    private static final long REPORT_NANOS = Long.getLong("persephonee.startupLog.stallMs", 100) * 1_000_000L;
    private static final Map<String, Long> MARKS = new LinkedHashMap<>();

    /**
     * Milestones after which the start is over: the panes attached, the backbone's stages timed (after the panes) and
     * the last run back (a workspace without a last run never reaches that one: the watch then goes on).
     */
    private static final java.util.List<String> END = java.util.List.of("all panes attached", "stages timed",
            "last run restored");
    private static final javafx.beans.property.DoubleProperty LONGEST_STALL_MS =
            new javafx.beans.property.SimpleDoubleProperty();
    private static volatile StallProbe stalls;

    private StartupTimeline() { }

    /**
     * Starts watching the FX thread for stalls (the lab's {@link StallProbe}), on the FX thread at the first window;
     * it ends once the start is over.
     */
    public static void watchFxStalls() {
        Thread fx = Thread.currentThread();
        StallProbe probe = new StallProbe(LONGEST_STALL_MS);
        probe.reset();
        probe.start();
        stalls = probe;
        if (LOG) {
            Thread w = new Thread(() -> sampleStalls(fx, probe), "stall-sampler");
            w.setDaemon(true);
            w.start();
        }
    }

    /**
     * With the start log on: while the FX thread goes more than 100 ms without a frame, samples its stack every
     * 20 ms and prints the methods of ours (and the controls') it was in, so a slow start names its cause.
     */
    private static void sampleStalls(Thread fx, StallProbe probe) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        long stallStart = 0;
        // the threads' CPU clocks at each of the last ticks, so a stall's account starts at its last frame
        java.util.ArrayDeque<Map.Entry<Long, Map<String, TaskClock.Task>>> clocks = new java.util.ArrayDeque<>();
        Map<String, TaskClock.Task> atStallStart = null;
        Thread engineThread = null;
        while (stalls == probe) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                return;
            }
            long lastPulse = probe.lastFrameNanos();
            long gap = System.nanoTime() - lastPulse;
            if (gap <= REPORT_NANOS) {
                clocks.addLast(Map.entry(System.nanoTime(), TaskClock.now()));
                while (clocks.size() > 8) {
                    clocks.removeFirst();
                }
            }
            if (gap > REPORT_NANOS) {
                if (stallStart == 0) {
                    stallStart = lastPulse;
                    atStallStart = null;
                    for (Map.Entry<Long, Map<String, TaskClock.Task>> c : clocks) {
                        if (atStallStart == null || c.getKey() <= lastPulse) {
                            atStallStart = c.getValue();
                        }
                    }
                }
                // and what the engine thread was doing meanwhile (loading libtorch held the FX thread 0.3 s)
                if (engineThread == null || !engineThread.isAlive()) {
                    engineThread = Thread.getAllStackTraces().keySet().stream()
                            .filter(t -> t.getName().equals("engine")).findFirst().orElse(null);
                }
                StackTraceElement[] es = engineThread == null ? new StackTraceElement[0] : engineThread.getStackTrace();
                if (es.length > 0) {
                    counts.merge(innermost("engine thread: ", es, 5), 1, Integer::sum);
                }
                java.util.Set<String> seen = new java.util.HashSet<>();
                StackTraceElement[] stack = fx.getStackTrace();
                if (stack.length > 0) {
                    // the innermost frames too: a stall in none of the methods below names where it waits (the
                    // FX thread parked in PaintCollector.waitForRenderingToComplete waits for the renderer)
                    counts.merge(innermost("top:", stack, 6), 1, Integer::sum);
                }
                for (StackTraceElement e : stack) {
                    String m = e.getClassName() + "." + e.getMethodName();
                    if ((m.startsWith("org.persephonee") || m.contains("Skin.<init>") || m.startsWith("org.jfree")
                            || m.contains("processCSS") || m.contains("doLayoutPass")) && seen.add(m)) {
                        counts.merge(m, 1, Integer::sum);
                    }
                }
            } else if (stallStart != 0) {
                System.err.printf("startup: FX stall of %.0f ms in: %s%n", (lastPulse - stallStart) / 1e6,
                        counts.entrySet().stream().sorted((a, b) -> b.getValue() - a.getValue()).limit(16)
                                .map(e -> e.getKey().replace("org.persephonee.", "") + " x" + e.getValue())
                                .toList());
                if (atStallStart != null) {
                    System.err.println("startup:   " + TaskClock.between(atStallStart, TaskClock.now(), 6));
                }
                counts.clear();
                stallStart = 0;
            }
        }
    }

    /** The innermost {@code n} frames of a stack, innermost first, as {@code Class.method < Class.method}. */
    private static String innermost(String label, StackTraceElement[] stack, int n) {
        StringBuilder sb = new StringBuilder(label);
        for (int i = 0; i < Math.min(stack.length, n); i++) {
            sb.append(i == 0 ? "" : " < ").append(stack[i].getClassName().replaceAll(".*\\.", "")).append('.')
                    .append(stack[i].getMethodName());
        }
        return sb.toString();
    }

    private static void stopWatching() {
        StallProbe probe = stalls;
        if (probe != null) {
            probe.stop();
            stalls = null;
        }
    }

    /** Records the first time {@code milestone} is reached (later calls with the same name are ignored). */
    public static synchronized void mark(String milestone) {
        if (MARKS.containsKey(milestone)) {
            return;
        }
        long ms = Duration.between(START, Instant.now()).toMillis();
        MARKS.put(milestone, ms);
        if (LOG) {
            System.err.printf("startup: %6d ms  %s (longest FX stall so far %.0f ms)%n", ms, milestone,
                    LONGEST_STALL_MS.get());
        }
        if (END.stream().allMatch(MARKS::containsKey) && javafx.application.Platform.isFxApplicationThread()) {
            stopWatching();
        }
    }
}
