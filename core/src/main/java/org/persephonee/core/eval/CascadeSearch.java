package org.persephonee.core.eval;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The searches behind the operating point: the cheapest cascade meeting an accuracy target over exit subsets
 * (every subset when there are few exits, else forward selection and backward elimination), one global threshold
 * per subset, per-exit refinement, and pruning of exits no image reaches. Pure functions of a {@link Cascade}.
 */
final class CascadeSearch {
    private CascadeSearch() { }

    /**
     * The cheapest cascade over any subset of exits, each with its best global threshold, meeting the target:
     * every subset when there are few exits, else greedy forward selection (from none, add the exit that helps
     * most) and backward elimination (from all, drop the exit whose removal helps most), the cheaper of the two.
     * A cascade that meets no target is never returned: the exit-free cascade (the final exit) is the fallback
     * only when no subset meets it.
     */
    static CascadeResult bestSubset(Cascade c, double target, boolean byMacs) {
        int n = c.exitCount();
        CascadeResult best = c.finalOnly();
        boolean finalMeets = best.accuracy() >= target;
        // every cascade met along the way; the answer is the fastest of them (millisecond ties to MACs)
        List<CascadeResult> met = new ArrayList<>();
        if (finalMeets) {
            met.add(best);
        }
        if (n <= OperatingPoint.EXHAUSTIVE_UP_TO) {
            for (int mask = 1; mask < (1 << n); mask++) {
                int[] ex = new int[Integer.bitCount(mask)];
                for (int j = 0, k = 0; j < n; j++) {
                    if ((mask & (1 << j)) != 0) {
                        ex[k++] = j;
                    }
                }
                CascadeResult r = bestGlobal(c, ex, target, byMacs);
                if (meets(r, target)) {
                    met.add(r);
                }
            }
            return met.isEmpty() ? best : fastest(met, byMacs);
        }
        // forward selection
        int[] cur = new int[0];
        CascadeResult fwd = best;
        boolean improved = true;
        while (improved) {
            improved = false;
            CascadeResult cand = null;
            for (int j = 0; j < n; j++) {
                if (contains(cur, j)) {
                    continue;
                }
                CascadeResult r = bestGlobal(c, insert(cur, j), target, byMacs);
                if (meets(r, target)) {
                    met.add(r);
                    if (cand == null || cheaper(r, cand, byMacs)) {
                        cand = r;
                    }
                }
            }
            if (cand != null && (!meets(fwd, target) || cheaper(cand, fwd, byMacs))) {
                fwd = cand;
                cur = cand.exits();
                improved = true;
            }
        }
        // backward elimination
        int[] all = new int[n];
        for (int j = 0; j < n; j++) {
            all[j] = j;
        }
        CascadeResult bwd = bestGlobal(c, all, target, byMacs);
        if (meets(bwd, target)) {
            met.add(bwd);
        }
        improved = bwd.exits().length > 0;
        while (improved && bwd.exits().length > 0) {
            improved = false;
            CascadeResult cand = null;
            for (int k = 0; k < bwd.exits().length; k++) {
                CascadeResult r = bestGlobal(c, remove(bwd.exits(), k), target, byMacs);
                if (meets(r, target)) {
                    met.add(r);
                    if (cand == null || cheaper(r, cand, byMacs)) {
                        cand = r;
                    }
                }
            }
            if (cand != null && cheaper(cand, bwd, byMacs)) {
                bwd = cand;
                improved = true;
            }
        }
        return met.isEmpty() ? best : fastest(met, byMacs);
    }

    static boolean meets(CascadeResult r, double target) {
        return r.accuracy() >= target;
    }

    /**
     * Milliseconds within this share of the fastest are a tie, decided by MACs. Measured milliseconds move
     * from run to run: after dividing out the machine's common speed, a stage's median still moved 1-5 %
     * between runs of the same bundle, so two cascades a few percent apart swapped places with nothing else
     * changed (tilted-phone, no labels, six runs: 62.5 % at 1.34x in four, 62.8 % at 1.32x in two). MACs do
     * not move.
     */
    static final double MS_TIE = 0.03;

    /**
     * The cheapest of some cascades. By MACs: the fewest (the first of equals). By milliseconds: among those
     * within {@link #MS_TIE} of the fastest, the fewest MACs (then the fewer milliseconds), so the answer never
     * lies more than a tie's width above the fastest and does not flip on the timer's noise inside it.
     */
    static CascadeResult fastest(List<CascadeResult> rs, boolean byMacs) {
        return fastest(rs, CascadeResult::meanMs, CascadeResult::meanMacs, byMacs);
    }

    /** {@link #fastest(List, boolean)} for anything with a cost in milliseconds and in MACs. */
    static <T> T fastest(List<T> items, java.util.function.ToDoubleFunction<T> ms,
                         java.util.function.ToDoubleFunction<T> macs, boolean byMacs) {
        T best = null;
        if (byMacs) {
            for (T t : items) {
                if (best == null || macs.applyAsDouble(t) < macs.applyAsDouble(best)) {
                    best = t;
                }
            }
            return best;
        }
        double min = Double.POSITIVE_INFINITY;
        for (T t : items) {
            min = Math.min(min, ms.applyAsDouble(t));
        }
        for (T t : items) {
            double m = ms.applyAsDouble(t);
            if (m > min * (1 + MS_TIE)) {
                continue;
            }
            if (best == null || macs.applyAsDouble(t) < macs.applyAsDouble(best)
                    || macs.applyAsDouble(t) == macs.applyAsDouble(best) && m < ms.applyAsDouble(best)) {
                best = t;
            }
        }
        return best;
    }

    /** Whether {@code a} costs less than {@code b}, by {@link #fastest}'s rule (ties at {@link #MS_TIE} to MACs). */
    static boolean cheaper(CascadeResult a, CascadeResult b, boolean byMacs) {
        return fastest(List.of(b, a), byMacs) == a;
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) {
            if (x == v) {
                return true;
            }
        }
        return false;
    }

    /** Adds an exit index, keeping stage order. */
    private static int[] insert(int[] a, int v) {
        int[] out = java.util.Arrays.copyOf(a, a.length + 1);
        out[a.length] = v;
        java.util.Arrays.sort(out);
        return out;
    }

    static double cost(CascadeResult r, boolean byMacs) {
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
            if (r.accuracy() >= target && (best == null || cheaper(r, best, byMacs))) {
                best = r;
            }
        }
        if (best == null || best.share().length == 1) {
            return c.finalOnly();
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
            if (r.accuracy() >= target && !cheaper(best, r, byMacs)) {
                best = r;
            }
        }
        return best;
    }

    /**
     * Coordinate descent over every exit's threshold, where an exit may also be switched off or on: from the
     * start cascade, each round tries every exit at every grid threshold and off, keeping any change that meets
     * the target more cheaply, until a round changes nothing. Switching exits on and off matters: the cheapest
     * global-threshold subset is often a near-tie with another, and which one wins flips with a few percent of
     * latency noise; refining only the winner's exits then lands in the nearer of two local optima (night-owl,
     * all labels: 4.4x or 7.5x from the same predictions).
     */
    static CascadeResult refine(Cascade c, CascadeResult start, double target, boolean byMacs) {
        if (start.exits().length == 0) {
            return start;
        }
        int n = c.exitCount();
        double[] th = new double[n];
        Arrays.fill(th, Double.NaN);
        for (int p = 0; p < start.exits().length; p++) {
            th[start.exits()[p]] = start.thresholds()[p];
        }
        CascadeResult best = start;
        List<CascadeResult> met = new ArrayList<>(List.of(start));
        double[] grid = ThresholdSweep.grid();
        for (int round = 0; round < MAX_ROUNDS; round++) {
            boolean changed = false;
            for (int j = 0; j < n; j++) {
                double keep = th[j];
                double bestT = keep;
                for (int g = -1; g < grid.length; g++) {
                    double t = g < 0 ? Double.NaN : grid[g];
                    if (Double.compare(t, keep) == 0) {
                        continue;
                    }
                    th[j] = t;
                    CascadeResult r = evaluateOn(c, th);
                    if (r.accuracy() >= target) {
                        met.add(r);
                        if (cheaper(r, best, byMacs)) {
                            best = r;
                            bestT = t;
                        }
                    }
                }
                th[j] = bestT;
                changed |= Double.compare(bestT, keep) != 0;
            }
            if (!changed) {
                break;
            }
        }
        // the walk compares pairwise, so tie after tie could drift; the answer is anchored to the fastest it met
        return pruneUnreached(c, fastest(met, byMacs), byMacs);
    }

    /**
     * Drops exits no image reaches (after an exit every remaining image leaves at, threshold 0): they cost
     * nothing in the cascade, but an exported configuration listing them would say they run.
     */
    static CascadeResult pruneUnreached(Cascade c, CascadeResult r, boolean byMacs) {
        int[] ex = r.exits();
        double[] share = r.share();
        int last = -1;
        for (int p = 0; p < ex.length; p++) {
            if (share[p] > 0) {
                last = p;
            }
        }
        if (last == ex.length - 1 || share[ex.length] > 0 || last < 0) {
            return r;
        }
        CascadeResult cut = c.evaluate(Arrays.copyOf(ex, last + 1), Arrays.copyOf(r.thresholds(), last + 1));
        return cut.accuracy() == r.accuracy() && cost(cut, byMacs) <= cost(r, byMacs) + 1e-12 ? cut : r;
    }

    /** Rounds of {@link #refine} at most (each tries every exit at every threshold). */
    static final int MAX_ROUNDS = 6;

    /** The cascade of the exits whose threshold is not NaN (off). */
    static CascadeResult evaluateOn(Cascade c, double[] th) {
        int k = 0;
        for (double t : th) {
            if (!Double.isNaN(t)) {
                k++;
            }
        }
        int[] ex = new int[k];
        double[] tt = new double[k];
        for (int j = 0, q = 0; j < th.length; j++) {
            if (!Double.isNaN(th[j])) {
                ex[q] = j;
                tt[q++] = th[j];
            }
        }
        return c.evaluate(ex, tt);
    }
}
