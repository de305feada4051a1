package org.persephonee.views;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The CPU every thread of this process had, from Linux's per-task scheduler statistics: time on a CPU and time
 * runnable but waiting for one, in nanoseconds, by native thread name (Java threads, libtorch's, the JIT's and the
 * garbage collector's alike). For the start log only: a stall where the FX thread ran little says what had the CPU
 * instead. Empty where {@code /proc} has no such files.
 */
final class TaskClock {
    /** One thread's clocks at a moment. */
    record Task(String name, long runNanos, long waitNanos) { }

    private static final Path TASKS = Path.of("/proc/self/task");

    private TaskClock() { }

    /** Every thread's clocks now, by thread id. */
    static Map<String, Task> now() {
        Map<String, Task> out = new HashMap<>();
        try (var dirs = Files.list(TASKS)) {
            for (Path d : (Iterable<Path>) dirs::iterator) {
                try {
                    String[] s = Files.readString(d.resolve("schedstat")).trim().split("\\s+");
                    String name = Files.readString(d.resolve("comm")).trim();
                    out.put(d.getFileName().toString(), new Task(name, Long.parseLong(s[0]), Long.parseLong(s[1])));
                } catch (IOException | RuntimeException e) {
                    // the thread ended meanwhile, or the kernel keeps no such statistics
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return out;
    }

    /**
     * What changed between two readings: the FX thread's time on a CPU and waiting for one, then the threads that ran
     * most (milliseconds, summed by name: libtorch's workers share one).
     */
    static String between(Map<String, Task> before, Map<String, Task> after, int top) {
        Map<String, long[]> byName = new HashMap<>();
        for (Map.Entry<String, Task> e : after.entrySet()) {
            Task b = before.get(e.getKey());
            long run = e.getValue().runNanos() - (b == null ? 0 : b.runNanos());
            long wait = e.getValue().waitNanos() - (b == null ? 0 : b.waitNanos());
            long[] acc = byName.computeIfAbsent(e.getValue().name(), k -> new long[2]);
            acc[0] += run;
            acc[1] += wait;
        }
        long[] fx = byName.getOrDefault("JavaFX Applicat", new long[2]);
        List<Map.Entry<String, long[]>> busiest = new ArrayList<>(byName.entrySet());
        busiest.sort((x, y) -> Long.compare(y.getValue()[0], x.getValue()[0]));
        StringBuilder sb = new StringBuilder(String.format(java.util.Locale.ROOT,
                "FX thread ran %d ms, waited for a CPU %d ms; busiest:", fx[0] / 1_000_000, fx[1] / 1_000_000));
        for (int i = 0; i < Math.min(top, busiest.size()); i++) {
            sb.append(String.format(java.util.Locale.ROOT, " %s %d ms", busiest.get(i).getKey(),
                    busiest.get(i).getValue()[0] / 1_000_000));
        }
        return sb.toString();
    }
}
