package org.persephonee.core.engine;

import java.util.ArrayList;
import java.util.List;

/**
 * Pins the calling thread to one CPU and back (Linux {@code sched_setaffinity} through JNA). Latency profiles
 * use it: the CPUs of one machine can differ a lot (measured on this 2-vCPU VM: the same backbone at batch 1
 * took 1.8 ms on CPU 1 and 2.5-2.8 ms on CPU 0), so an unpinned timing thread that lands on either CPU gives
 * bimodal timings and speed-ups that move between identical runs. Does nothing where the call is unavailable.
 */
public final class CpuAffinity {
    private static final int WORDS = 16; // 1024 CPUs

    private CpuAffinity() { }

    /** The calling thread's CPU mask, or {@code null} where it cannot be read. */
    public static long[] current() {
        Libc c = Libc.get();
        long[] mask = new long[WORDS];
        try {
            return c != null && c.sched_getaffinity(0, WORDS * 8L, mask) == 0 ? mask : null;
        } catch (LinkageError | RuntimeException e) {
            return null;
        }
    }

    /** The CPUs the calling thread may run on (empty where unknown). */
    public static List<Integer> allowed() {
        long[] mask = current();
        List<Integer> out = new ArrayList<>();
        if (mask != null) {
            for (int i = 0; i < WORDS * 64; i++) {
                if ((mask[i / 64] >>> (i % 64) & 1L) != 0) {
                    out.add(i);
                }
            }
        }
        return out;
    }

    /** Pins the calling thread to {@code cpu}; returns whether it worked. */
    public static boolean pin(int cpu) {
        long[] mask = new long[WORDS];
        mask[cpu / 64] |= 1L << (cpu % 64);
        return restore(mask);
    }

    /** Sets the calling thread's CPU mask (from {@link #current()}); {@code null} does nothing. */
    public static boolean restore(long[] mask) {
        Libc c = Libc.get();
        try {
            return mask != null && c != null && c.sched_setaffinity(0, WORDS * 8L, mask) == 0;
        } catch (LinkageError | RuntimeException e) {
            return false;
        }
    }
}
