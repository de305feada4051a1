package org.persephonee.core.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * Finite checks for every training loop: a non-finite loss or parameter stops the run with one message naming
 * the phase and the step, before anything is exported or saved.
 *
 * <p>Tests inject a fault with {@link #injectAt(String, int)} (or {@code -Dpersephonee.test.nanAt=PHASE:STEP}
 * for a CLI run): the loss at that phase and step is then treated as NaN, so the real reaction path runs.
 */
public final class NumericGuard {
    /** Phase names used in messages and for fault injection. */
    public static final String HEADS = "exit heads";
    public static final String FINAL_REFIT = "final exit re-fit";
    public static final String FULL_FINE_TUNE = "full fine-tuning";
    public static final String PRETRAIN = "pretraining";
    public static final String BATCH_NORM = "BatchNorm re-estimation";

    private static volatile String injectPhase;
    private static volatile int injectStep = -1;
    /** How many more times the injected fault fires; negative: every time. */
    private static volatile int injectTimes = -1;

    private NumericGuard() { }

    /** Training produced a non-finite number; nothing from the run may be used. */
    public static final class NonFiniteException extends IllegalStateException {
        private final String phase;
        private final int step;

        NonFiniteException(String phase, int step, String what) {
            super("training became non-finite during " + phase + " at step " + step + " (" + what + "); the run "
                    + "was stopped and nothing was exported or saved. If it happens again, run 'persephonee "
                    + "doctor' and include its output in a bug report");
            this.phase = phase;
            this.step = step;
        }

        /** The phase that failed. */
        public String phase() { return phase; }

        /** The step (1-based) that failed. */
        public int step() { return step; }
    }

    /**
     * Makes the loss of {@code phase} at {@code step} (1-based) count as NaN; {@code null} clears it.
     *
     * @param phase one of the phase constants, or {@code null}
     */
    public static void injectAt(String phase, int step) {
        injectAt(phase, step, -1);
    }

    /**
     * As {@link #injectAt(String, int)}, but the fault fires only {@code times} times (a passing glitch); negative:
     * every time.
     */
    public static synchronized void injectAt(String phase, int step, int times) {
        injectPhase = phase;
        injectStep = step;
        injectTimes = times;
    }

    private static synchronized boolean injected(String phase, int step) {
        if (injectPhase != null) {
            if (!injectPhase.equals(phase) || injectStep != step || injectTimes == 0) {
                return false;
            }
            if (injectTimes > 0) {
                injectTimes--;
            }
            return true;
        }
        String p = System.getProperty("persephonee.test.nanAt");
        if (p == null) {
            return false;
        }
        int c = p.lastIndexOf(':');
        return c > 0 && p.substring(0, c).equals(phase) && p.substring(c + 1).equals(Integer.toString(step));
    }

    /**
     * Checks a loss value.
     *
     * @param phase the phase, for the message
     * @param step the 1-based step
     * @param loss the loss
     * @param what names the head or part, may be {@code null}
     * @throws NonFiniteException when the loss is NaN or infinite
     */
    public static void loss(String phase, int step, double loss, String what) {
        if (!Double.isFinite(loss) || injected(phase, step)) {
            throw new NonFiniteException(phase, step, (what == null ? "" : what + ": ") + "loss "
                    + (Double.isFinite(loss) ? "NaN (injected)" : loss));
        }
    }

    /**
     * Checks that every element of an array is finite (one reduction, one number copied back).
     *
     * @param phase the phase, for the message
     * @param step the 1-based step
     * @param array the array, must not be {@code null}
     * @param what names the parameter
     */
    public static void finite(String phase, int step, NDArray array, String what) {
        double s;
        try (ai.djl.ndarray.NDManager m = array.getManager().newSubManager()) {
            NDArray a = array.abs();
            a.attach(m);
            NDArray sum = a.sum();
            sum.attach(m);
            NDArray d = sum.toType(DataType.FLOAT64, false);
            d.attach(m);
            s = d.getDouble();
        }
        if (!Double.isFinite(s)) {
            throw new NonFiniteException(phase, step, what + " is not finite");
        }
    }

    /** Checks plain values (parameters copied to the JVM). */
    public static void finite(String phase, int step, float[] values, String what) {
        for (float v : values) {
            if (!Float.isFinite(v)) {
                throw new NonFiniteException(phase, step, what + " is not finite");
            }
        }
    }
}
