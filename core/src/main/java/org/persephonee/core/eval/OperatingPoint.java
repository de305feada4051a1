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
        return choose(c, maxDropPoints, byMacs, Search.PER_EXIT);
    }

    /**
     * How freely the search may fit thresholds to the evaluation images, from most to least.
     */
    public enum Search {
        /** Drop unhelpful exits, then refine every exit's own threshold (fastest on the images it sees). */
        PER_EXIT("per-exit thresholds"),
        /** Drop unhelpful exits, one shared threshold. */
        DROP("exit subset, one threshold"),
        /** Every exit, one shared threshold (fewest degrees of freedom). */
        GLOBAL("one global threshold");

        private final String display;

        Search(String display) { this.display = display; }

        public String display() { return display; }
    }

    /** Finds the operating point with the given search. */
    public static Choice choose(Cascade c, double maxDropPoints, boolean byMacs, Search search) {
        double target = c.finalAccuracy() - maxDropPoints / 100.0 - 1e-9;
        int n = c.exitCount();
        int[] all = new int[n];
        for (int j = 0; j < n; j++) {
            all[j] = j;
        }
        CascadeResult best = bestGlobal(c, all, target, byMacs);
        // greedily drop exits while that lowers the cost at the accuracy budget
        boolean improved = search != Search.GLOBAL;
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
        if (search == Search.PER_EXIT) {
            best = refine(c, best, target, byMacs);
        }
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

    /**
     * How the operating-point search generalises to images it did not see: the evaluation images are split
     * in two halves (stratified by reference class, seeded); thresholds chosen on one half are evaluated on the
     * other, both ways. The chosen thresholds are picked on the same images whose accuracy they report, so
     * {@link Choice#cascade()}'s accuracy is optimistic; this is the honest estimate of the cascade's accuracy
     * and of its drop against the final exit.
     *
     * @param accuracy mean out-of-half cascade accuracy
     * @param finalAccuracy mean final-exit accuracy on the same halves
     * @param speedup mean out-of-half latency ratio final / cascade (by the cost model used)
     */
    public record Validation(double accuracy, double finalAccuracy, double speedup) {
        /** Out-of-half accuracy drop against the final exit, percentage points (negative: the cascade is better). */
        public double dropPoints() { return (finalAccuracy - accuracy) * 100; }
    }

    /**
     * Split-half cross-validation of {@link #choose} with the given search; null with fewer than 20 images.
     *
     * @param seed picks the split
     */
    public static Validation crossValidate(Cascade c, double maxDropPoints, boolean byMacs, long seed, Search search) {
        org.persephonee.core.personalise.EvalPredictions p = c.predictions();
        int n = p.size();
        if (n < 20) {
            return null;
        }
        java.util.Map<Integer, java.util.List<Integer>> byClass = new java.util.TreeMap<>();
        for (int i = 0; i < n; i++) {
            byClass.computeIfAbsent(p.reference(i), k -> new java.util.ArrayList<>()).add(i);
        }
        java.util.Random rnd = new java.util.Random(seed);
        java.util.List<Integer> a = new java.util.ArrayList<>();
        java.util.List<Integer> b = new java.util.ArrayList<>();
        for (java.util.List<Integer> rows : byClass.values()) {
            java.util.Collections.shuffle(rows, rnd);
            for (int k = 0; k < rows.size(); k++) {
                (k % 2 == 0 ? a : b).add(rows.get(k));
            }
        }
        int[][] halves = {a.stream().mapToInt(Integer::intValue).toArray(), b.stream().mapToInt(Integer::intValue).toArray()};
        double acc = 0;
        double fin = 0;
        double speed = 0;
        for (int h = 0; h < 2; h++) {
            Cascade pick = new Cascade(p.subset(halves[h]), c.ms(), c.macs(), c.confidence());
            Cascade check = new Cascade(p.subset(halves[1 - h]), c.ms(), c.macs(), c.confidence());
            CascadeResult chosen = choose(pick, maxDropPoints, byMacs, search).cascade();
            CascadeResult out = check.evaluate(chosen.exits(), chosen.thresholds());
            CascadeResult finalOnly = check.evaluate(new int[0], new double[0]);
            acc += out.accuracy() / 2;
            fin += check.finalAccuracy() / 2;
            speed += cost(finalOnly, byMacs) / cost(out, byMacs) / 2;
        }
        return new Validation(acc, fin, speed);
    }

    /**
     * The operating point and how it was found.
     *
     * @param choice the exported exits and thresholds, searched on all evaluation images
     * @param search the search used
     * @param validation its split-half cross-validated estimate (null with fewer than 20 images)
     * @param tried every search's cross-validated estimate
     */
    public record Selection(Choice choice, Search search, Validation validation, java.util.Map<Search, Validation> tried) { }

    /**
     * Picks the search by split-half cross-validation: the most flexible one whose out-of-half accuracy drop
     * stays within the budget, else the one with the smallest drop. With few evaluation images thresholds
     * tuned per exit fit the images rather than the person (tilted-phone, ~10 % labels: per-exit thresholds
     * lose 5.3 points out of sample, one global threshold 0.6).
     *
     * @param seed picks the halves
     */
    public static Selection select(Cascade c, double maxDropPoints, boolean byMacs, long seed) {
        java.util.Map<Search, Validation> tried = new java.util.EnumMap<>(Search.class);
        Search pick = null;
        Search closest = null;
        for (Search s : Search.values()) {
            Validation v = crossValidate(c, maxDropPoints, byMacs, seed, s);
            if (v == null) {
                return new Selection(choose(c, maxDropPoints, byMacs, Search.PER_EXIT), Search.PER_EXIT, null, tried);
            }
            tried.put(s, v);
            if (pick == null && v.dropPoints() <= maxDropPoints + 1e-9) {
                pick = s;
            }
            if (closest == null || v.dropPoints() < tried.get(closest).dropPoints() - 1e-9) {
                closest = s;
            }
        }
        Search s = pick != null ? pick : closest;
        return new Selection(choose(c, maxDropPoints, byMacs, s), s, tried.get(s), tried);
    }
}
