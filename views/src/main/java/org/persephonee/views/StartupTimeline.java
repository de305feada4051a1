package org.persephonee.views;

import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Milestones of the lab's start, in milliseconds since the process started (window shown, first frame, backbone
 * graph, images, last run). Printed to standard error as they happen when {@code -Dpersephonee.startupLog=true};
 * always kept for the diagnostics and the tests.
 */
public final class StartupTimeline {
    /** The JVM's own record of its start (the process's start time from /proc drifts by up to a second in VMs). */
    private static final Instant START = Instant.ofEpochMilli(
            java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime());
    private static final boolean LOG = Boolean.getBoolean("persephonee.startupLog");
    private static final Map<String, Long> MARKS = new LinkedHashMap<>();

    private static volatile double longestStallMs;
    /** Milestones after which the start is over (a workspace without a last run never reaches the second). */
    private static final java.util.List<String> END = java.util.List.of("stage latency measured", "last run restored");
    private static javafx.animation.AnimationTimer stalls;

    private StartupTimeline() { }

    /**
     * Starts watching the FX thread for stalls (the longest gap between two frames), on the FX thread at the
     * first window; {@link #stopWatching()} ends it once the start is over.
     */
    public static void watchFxStalls() {
        Thread fx = Thread.currentThread();
        stalls = new javafx.animation.AnimationTimer() {
            private long last;

            @Override
            public void handle(long now) {
                if (last != 0) {
                    longestStallMs = Math.max(longestStallMs, (now - last) / 1e6);
                }
                last = now;
                lastPulse = System.nanoTime();
            }
        };
        lastPulse = System.nanoTime();
        stalls.start();
        if (LOG) {
            Thread w = new Thread(() -> sampleStalls(fx), "stall-sampler");
            w.setDaemon(true);
            w.start();
        }
    }

    private static volatile long lastPulse;

    /**
     * With the start log on: while the FX thread goes more than 100 ms without a frame, samples its stack every
     * 20 ms and prints the methods of ours (and the controls') it was in, so a slow start names its cause.
     */
    private static void sampleStalls(Thread fx) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        long stallStart = 0;
        while (stalls != null) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                return;
            }
            long gap = System.nanoTime() - lastPulse;
            if (gap > 100_000_000L) {
                if (stallStart == 0) {
                    stallStart = lastPulse;
                }
                java.util.Set<String> seen = new java.util.HashSet<>();
                for (StackTraceElement e : fx.getStackTrace()) {
                    String m = e.getClassName() + "." + e.getMethodName();
                    if ((m.startsWith("org.persephonee") || m.contains("Skin.<init>") || m.startsWith("org.jfree")
                            || m.contains("processCSS") || m.contains("doLayoutPass")) && seen.add(m)) {
                        counts.merge(m, 1, Integer::sum);
                    }
                }
            } else if (stallStart != 0) {
                System.err.printf("startup: FX stall of %.0f ms in: %s%n", (lastPulse - stallStart) / 1e6,
                        counts.entrySet().stream().sorted((a, b) -> b.getValue() - a.getValue()).limit(12)
                                .map(e -> e.getKey().replace("org.persephonee.", "") + " x" + e.getValue())
                                .toList());
                counts.clear();
                stallStart = 0;
            }
        }
    }

    /** Ends the start's stall watch (on the FX thread); the longest stall stays readable. */
    public static void stopWatching() {
        if (stalls != null) {
            stalls.stop();
            stalls = null;
        }
    }

    /** The longest FX-thread stall seen since {@link #watchFxStalls()}, in milliseconds. */
    public static double longestStallMs() {
        return longestStallMs;
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
                    longestStallMs);
        }
        if (END.stream().allMatch(MARKS::containsKey) && javafx.application.Platform.isFxApplicationThread()) {
            stopWatching();
        }
    }

    /** Milliseconds since the process started at which each milestone was reached, in order. */
    public static synchronized Map<String, Long> marks() {
        return Map.copyOf(MARKS);
    }

    /** Milliseconds since the process started. */
    public static long now() {
        return Duration.between(START, Instant.now()).toMillis();
    }
}
