package org.persephonee.core.eval;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Chooses where images may leave: the fastest cascade whose accuracy stays within a given drop of the best
 * head the run produced (any exit alone, or the personalised final exit: when an exit beats the final exit,
 * the final exit does not set the bar). Searches every subset of exits with its best global threshold (greedy
 * forward and backward selection beyond {@value #EXHAUSTIVE_UP_TO} exits), so adding an exit can never make
 * the chosen point worse on the images it is chosen on, then refines per-exit thresholds by coordinate descent
 * over every exit, switching exits on and off as it goes (in the spirit of HAPI's exit-subset and threshold
 * search), so the result does not hinge on which of two near-tied subsets a few percent of latency noise
 * made cheapest.
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
                         double maxDrop, Reference reference) {
        public Choice(CascadeResult cascade, double finalAccuracy, double finalMs, double finalMacs, double maxDrop) {
            this(cascade, finalAccuracy, finalMs, finalMacs, maxDrop, null);
        }

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

    /** Exhaustive subset search up to this many exits (1023 subsets); greedy forward + backward beyond. */
    static final int EXHAUSTIVE_UP_TO = 10;

    /**
     * The accuracy the operating point is held to: the best single head on the images the choice is made on.
     *
     * @param accuracy its accuracy
     * @param exit its exit index, or -1 for the personalised final exit
     */
    public record Reference(double accuracy, int exit) { }

    /** The best head alone (every image leaving there), ties going to the final exit, then the earlier exit. */
    public static Reference reference(Cascade c) {
        Reference best = new Reference(c.finalAccuracy(), -1);
        for (int j = 0; j < c.exitCount(); j++) {
            double a = c.evaluate(new int[] {j}, 0.0).accuracy();
            if (a > best.accuracy() + 1e-12) {
                best = new Reference(a, j);
            }
        }
        return best;
    }

    /** Finds the operating point with the given search. */
    public static Choice choose(Cascade c, double maxDropPoints, boolean byMacs, Search search) {
        Reference ref = reference(c);
        double target = ref.accuracy() - maxDropPoints / 100.0 - 1e-9;
        int n = c.exitCount();
        int[] all = new int[n];
        for (int j = 0; j < n; j++) {
            all[j] = j;
        }
        CascadeResult best = search == Search.GLOBAL ? bestGlobal(c, all, target, byMacs)
                : bestSubset(c, target, byMacs);
        if (!meets(best, target) && ref.exit() >= 0) {
            // no cascade of this search reaches the bar: the best head alone does
            best = c.evaluate(new int[] {ref.exit()}, new double[] {0.0});
        }
        if (search == Search.PER_EXIT) {
            best = refine(c, best, target, byMacs);
        }
        CascadeResult fin = c.finalOnly();
        return new Choice(best, c.finalAccuracy(), fin.meanMs(), fin.meanMacs(), maxDropPoints, ref);
    }

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
        if (n <= EXHAUSTIVE_UP_TO) {
            for (int mask = 1; mask < (1 << n); mask++) {
                int[] ex = new int[Integer.bitCount(mask)];
                for (int j = 0, k = 0; j < n; j++) {
                    if ((mask & (1 << j)) != 0) {
                        ex[k++] = j;
                    }
                }
                best = cheaper(best, finalMeets, bestGlobal(c, ex, target, byMacs), target, byMacs);
                finalMeets = best.accuracy() >= target;
            }
            return best;
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
                if (meets(r, target) && (cand == null || cost(r, byMacs) < cost(cand, byMacs))) {
                    cand = r;
                }
            }
            if (cand != null && (!meets(fwd, target) || cost(cand, byMacs) < cost(fwd, byMacs) - 1e-12)) {
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
        improved = bwd.exits().length > 0;
        while (improved && bwd.exits().length > 0) {
            improved = false;
            CascadeResult cand = null;
            for (int k = 0; k < bwd.exits().length; k++) {
                CascadeResult r = bestGlobal(c, remove(bwd.exits(), k), target, byMacs);
                if (meets(r, target) && (cand == null || cost(r, byMacs) < cost(cand, byMacs))) {
                    cand = r;
                }
            }
            if (cand != null && cost(cand, byMacs) < cost(bwd, byMacs) - 1e-12) {
                bwd = cand;
                improved = true;
            }
        }
        best = cheaper(best, finalMeets, fwd, target, byMacs);
        return cheaper(best, best.accuracy() >= target, bwd, target, byMacs);
    }

    private static boolean meets(CascadeResult r, double target) {
        return r.accuracy() >= target;
    }

    /** The better of two cascades: one meeting the target beats one that does not; then the cheaper. */
    private static CascadeResult cheaper(CascadeResult best, boolean bestMeets, CascadeResult r, double target,
                                         boolean byMacs) {
        if (!meets(r, target)) {
            return best;
        }
        if (!bestMeets || cost(r, byMacs) < cost(best, byMacs) - 1e-12) {
            return r;
        }
        return best;
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
            if (r.accuracy() >= target && cost(r, byMacs) <= cost(best, byMacs)) {
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
                    if (r.accuracy() >= target && cost(r, byMacs) < cost(best, byMacs) - 1e-12) {
                        best = r;
                        bestT = t;
                    }
                }
                th[j] = bestT;
                changed |= Double.compare(bestT, keep) != 0;
            }
            if (!changed) {
                break;
            }
        }
        return pruneUnreached(c, best, byMacs);
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
    private static CascadeResult evaluateOn(Cascade c, double[] th) {
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

    /**
     * How the operating-point search generalises to images it did not see: the evaluation images are split
     * in two halves (stratified by reference class, seeded); thresholds chosen on one half are evaluated on the
     * other, both ways. The chosen thresholds are picked on the same images whose accuracy they report, so
     * {@link Choice#cascade()}'s accuracy is optimistic; this is the honest estimate of the cascade's accuracy
     * and of its drop against the final exit.
     *
     * @param accuracy mean out-of-half cascade accuracy
     * @param referenceAccuracy mean out-of-half accuracy of the head each half picked as the bar (the best
     *                          head on that half)
     * @param speedup mean out-of-half latency ratio final / cascade (by the cost model used)
     */
    public record Validation(double accuracy, double referenceAccuracy, double speedup) {
        /** Out-of-half accuracy drop against the reference head, percentage points (negative: the cascade is better). */
        public double dropPoints() { return (referenceAccuracy - accuracy) * 100; }
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
            Choice choice = choose(pick, maxDropPoints, byMacs, search);
            CascadeResult chosen = choice.cascade();
            CascadeResult out = check.evaluate(chosen.exits(), chosen.thresholds());
            CascadeResult finalOnly = check.finalOnly();
            int refExit = choice.reference().exit();
            acc += out.accuracy() / 2;
            fin += (refExit < 0 ? check.finalAccuracy() : check.evaluate(new int[] {refExit}, 0.0).accuracy()) / 2;
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
     * @param tried every search's cross-validated estimate at the asked budget
     * @param chosenOn the choice as scored on the images it was made on (null when those are the evaluation images)
     * @param budget the drop, in points, the search was given on the images it chose on (the asked drop, or less
     *               where the search's own picks lost more than that out of half)
     */
    public record Selection(Choice choice, Search search, Validation validation, java.util.Map<Search, Validation> tried,
                            Choice chosenOn, double budget) {
        public Selection(Choice choice, Search search, Validation validation, java.util.Map<Search, Validation> tried) {
            this(choice, search, validation, tried, null, choice.maxDrop());
        }

        /**
         * The same selection with {@code choice} re-scored on other images (the evaluation images) and the
         * original kept as {@link #chosenOn()}: the figures of the images the choice was made on.
         */
        public Selection scoredOn(Cascade other) {
            CascadeResult r = other.evaluate(choice.cascade().exits(), choice.cascade().thresholds());
            CascadeResult fin = other.finalOnly();
            int refExit = choice.reference() == null ? -1 : choice.reference().exit();
            Reference ref = new Reference(refExit < 0 ? other.finalAccuracy()
                    : other.evaluate(new int[] {refExit}, 0.0).accuracy(), refExit);
            return new Selection(new Choice(r, other.finalAccuracy(), fin.meanMs(), fin.meanMacs(), choice.maxDrop(), ref),
                    search, validation, tried, choice, budget);
        }
    }

    /**
     * Budgets tried inside the search, in points, from the asked drop down to a point below the reference
     * (the cascade must then beat the best head where it chooses).
     */
    static double[] budgets(double maxDropPoints) {
        return new double[] {maxDropPoints, maxDropPoints - 0.5, maxDropPoints - 1, maxDropPoints - 2};
    }

    /**
     * Picks the search and the budget it is given by split-half cross-validation. Choosing the fastest cascade
     * that meets a bar on some images favours cascades that were lucky on them: out of half, a cascade chosen
     * within one point of the best head loses more (bench, tilted-phone and night-owl with few labels: 3-7
     * points on the test images). So every search is tried with the asked drop and with smaller ones
     * ({@link #budgets}), and the fastest out of half among those whose out-of-half drop stays within the
     * asked drop wins; when none does, the one with the smallest drop.
     *
     * @param seed picks the halves
     */
    public static Selection select(Cascade c, double maxDropPoints, boolean byMacs, long seed) {
        java.util.Map<Search, Validation> tried = new java.util.EnumMap<>(Search.class);
        Search pick = null;
        double pickBudget = maxDropPoints;
        Validation pickV = null;
        Search closest = null;
        double closestBudget = maxDropPoints;
        Validation closestV = null;
        for (Search s : Search.values()) {
            for (double b : budgets(maxDropPoints)) {
                Validation v = crossValidate(c, b, byMacs, seed, s);
                if (v == null) {
                    return new Selection(choose(c, maxDropPoints, byMacs, Search.PER_EXIT), Search.PER_EXIT, null, tried);
                }
                if (b == maxDropPoints) {
                    tried.put(s, v);
                }
                if (v.dropPoints() <= maxDropPoints + 1e-9 && (pickV == null || v.speedup() > pickV.speedup() + 1e-9)) {
                    pick = s;
                    pickBudget = b;
                    pickV = v;
                }
                if (closestV == null || v.dropPoints() < closestV.dropPoints() - 1e-9) {
                    closest = s;
                    closestBudget = b;
                    closestV = v;
                }
            }
        }
        Search s = pick != null ? pick : closest;
        double budget = pick != null ? pickBudget : closestBudget;
        Choice ch = choose(c, budget, byMacs, s);
        Choice asked = new Choice(ch.cascade(), ch.finalAccuracy(), ch.finalMs(), ch.finalMacs(), maxDropPoints,
                ch.reference());
        return new Selection(asked, s, pick != null ? pickV : closestV, tried, null, budget);
    }
}
