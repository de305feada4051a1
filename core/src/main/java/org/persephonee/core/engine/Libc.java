package org.persephonee.core.engine;

import com.sun.jna.Library;
import com.sun.jna.Native;

/** The few C library calls the engine needs (environment and CPU affinity), bound once through JNA. */
interface Libc extends Library {
    int setenv(String name, String value, int overwrite);

    String getenv(String name);

    int sched_setaffinity(int pid, long cpusetsize, long[] mask);

    int sched_getaffinity(int pid, long cpusetsize, long[] mask);

    /** The bound library, or {@code null} where JNA or the C library is unavailable. */
    static Libc get() {
        return Holder.INSTANCE;
    }

    /** Loads the binding on first use. */
    final class Holder {
        static final Libc INSTANCE = load();

        private Holder() { }

        private static Libc load() {
            try {
                return Native.load("c", Libc.class);
            } catch (LinkageError | RuntimeException e) {
                return null;
            }
        }
    }
}
