package org.persephonee.core.eval;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Chooses where images may leave: the fastest cascade whose accuracy stays within a given drop of the
 * personalised final exit. Starts from all exits with the best global threshold, drops exits whose
 * removal makes the cascade faster at the same accuracy budget, then refines per-exit thresholds by
 * coordinate descent (in the spirit of HAPI's exit-subset and threshold search).
 */
public final class OperatingPoint {
    private OperatingPoint() { }

    /**
     * The chosen operating point.
     *
     * @param cascade the selected exits, thresholds and their accuracy and cost
     * @param finalAccuracy accuracy of the personalised final exit
     * @param finalMs cost of the personalised final exit alone, ms
     * @param finalMacs cost of the personalised final exit alone, MACs
     * @param maxDrop allowed accuracy drop in percentage points
     */
    public record Choice(CascadeResult cascade, double finalAccuracy, double finalMs, double finalMacs,
                         double maxDrop) {
        /** Latency ratio: personalised final exit / cascade. */
        public double speedup() { return finalMs / cascade.meanMs(); }

        /** MAC ratio: personalised final exit / cascade. */
        public double macSpeedup() { return finalMacs / cascade.meanMacs(); }
    }

    /**
     * Finds the operating point.
     *
     * @param c cascade evaluator
     * @param maxDropPoints allowed accuracy drop, percentage points (1.0 = one point)
     * @param byMacs optimise MACs instead of milliseconds
     */
    public static Choice choose(Cascade c, double maxDropPoints, boolean byMacs) {
        double target = c.finalAccuracy() - maxDropPoints / 100.0 - 1e-9;
        int n = c.exitCount();
        int[] all = new int[n];
        for (int j = 0; j < n; j++) {
            all[j] = j;
        }
        CascadeResult best = bestGlobal(c, all, target, byMacs);
        // greedily drop exits while that lowers the cost at the accuracy budget
        boolean improved = true;
        while (improved && best.exits().length > 0) {
            improved = false;
            CascadeResult cand = null;
            for (int k = 0; k < best.exits().length; k++) {
                int[] fewer = remove(best.exits(), k);
                CascadeResult r = bestGlobal(c, fewer, target, byMacs);
                if (cost(r, byMacs) < cost(best, byMacs) - 1e-12 && (cand == null || cost(r, byMacs) < cost(cand, byMacs))) {
                    cand = r;
                }
            }
            if (cand != null) {
                best = cand;
                improved = true;
            }
        }
        best = refine(c, best, target, byMacs);
        CascadeResult fin = c.evaluate(new int[0], new double[0]);
        return new Choice(best, c.finalAccuracy(), fin.meanMs(), fin.meanMacs(), maxDropPoints);
    }

    private static double cost(CascadeResult r, boolean byMacs) {
        return byMacs ? r.meanMacs() : r.meanMs();
    }

    private static int[] remove(int[] a, int k) {
        int[] out = new int[a.length - 1];
        for (int i = 0, j = 0; i < a.length; i++) {
            if (i != k) {
                out[j++] = a[i];
            }
        }
        return out;
    }

    /** Cheapest global threshold meeting the target; the exit-free cascade when none does. */
    static CascadeResult bestGlobal(Cascade c, int[] exits, double target, boolean byMacs) {
        CascadeResult best = null;
        for (double t : ThresholdSweep.grid()) {
            CascadeResult r = c.evaluate(exits, t);
            if (r.accuracy() >= target && (best == null || cost(r, byMacs) < cost(best, byMacs))) {
                best = r;
            }
        }
        if (best == null || best.share().length == 1) {
            return c.evaluate(new int[0], new double[0]);
        }
        // exits nobody leaves at only cost time: drop them
        List<Integer> keep = new ArrayList<>();
        for (int p = 0; p < best.exits().length; p++) {
            if (best.share()[p] > 0) {
                keep.add(p);
            }
        }
        if (keep.size() < best.exits().length) {
            int[] ex = keep.stream().mapToInt(p -> exits[p]).toArray();
            double[] th = new double[ex.length];
            Arrays.fill(th, best.thresholds()[0]);
            CascadeResult r = c.evaluate(ex, th);
            if (r.accuracy() >= target && cost(r, byMacs) <= cost(best, byMacs)) {
                best = r;
            }
        }
        return best;
    }

    /** Coordinate descent over per-exit thresholds, two rounds. */
    static CascadeResult refine(Cascade c, CascadeResult start, double target, boolean byMacs) {
        if (start.exits().length == 0) {
            return start;
        }
        CascadeResult best = start;
        double[] grid = ThresholdSweep.grid();
        for (int round = 0; round < 2; round++) {
            for (int p = 0; p < best.exits().length; p++) {
                for (double t : grid) {
                    double[] th = best.thresholds().clone();
                    th[p] = t;
                    CascadeResult r = c.evaluate(best.exits(), th);
                    if (r.accuracy() >= target && cost(r, byMacs) < cost(best, byMacs) - 1e-12) {
                        best = r;
                    }
                }
            }
        }
        return best;
    }
}
