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

    private StartupTimeline() { }

    /** Records the first time {@code milestone} is reached (later calls with the same name are ignored). */
    public static synchronized void mark(String milestone) {
        if (MARKS.containsKey(milestone)) {
            return;
        }
        long ms = Duration.between(START, Instant.now()).toMillis();
        MARKS.put(milestone, ms);
        if (LOG) {
            System.err.printf("startup: %6d ms  %s%n", ms, milestone);
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
