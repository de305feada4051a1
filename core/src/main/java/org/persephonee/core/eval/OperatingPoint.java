package org.persephonee.core.eval;

import java.util.ArrayList;
import java.util.List;

/**
 * Chooses where images may leave: the fastest cascade whose accuracy stays within a given drop of the best
 * head the run produced (any exit alone, or the personalised final exit: when an exit beats the final exit,
 * the final exit does not set the bar). Searches every subset of exits with its best global threshold (greedy
 * forward and backward selection beyond {@value #EXHAUSTIVE_UP_TO} exits), so adding an exit can never make
 * the chosen point worse on the images it is chosen on, then refines per-exit thresholds by coordinate descent
 * over every exit, switching exits on and off as it goes (in the spirit of HAPI's exit-subset and threshold
 * search), so the result does not hinge on which of two near-tied subsets a few percent of latency noise
 * made cheapest. By milliseconds, cascades within {@link CascadeSearch#MS_TIE} of the fastest are a tie that
 * MACs decide, so two runs of the same predictions give the same answer whatever the timer measured.
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
        CascadeResult best = search == Search.GLOBAL ? CascadeSearch.bestGlobal(c, all, target, byMacs)
                : CascadeSearch.bestSubset(c, target, byMacs);
        if (!CascadeSearch.meets(best, target) && ref.exit() >= 0) {
            // no cascade of this search reaches the bar: the best head alone does
            best = c.evaluate(new int[] {ref.exit()}, new double[] {0.0});
        }
        if (search == Search.PER_EXIT) {
            best = CascadeSearch.refine(c, best, target, byMacs);
        }
        CascadeResult fin = c.finalOnly();
        if (!byMacs && CascadeSearch.meets(fin, target) && best.meanMs() > fin.meanMs()) {
            // a millisecond tie decided by MACs never makes the answer slower than the final exit alone
            best = fin;
        }
        return new Choice(best, c.finalAccuracy(), fin.meanMs(), fin.meanMacs(), maxDropPoints, ref);
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
     * @param macSpeedup mean out-of-half MAC ratio final / cascade (breaks millisecond ties)
     */
    public record Validation(double accuracy, double referenceAccuracy, double speedup, double macSpeedup) {
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
        double macSpeed = 0;
        for (int h = 0; h < 2; h++) {
            Cascade pick = c.on(p.subset(halves[h]));
            Cascade check = c.on(p.subset(halves[1 - h]));
            Choice choice = choose(pick, maxDropPoints, byMacs, search);
            CascadeResult chosen = choice.cascade();
            CascadeResult out = check.evaluate(chosen.exits(), chosen.thresholds());
            CascadeResult finalOnly = check.finalOnly();
            int refExit = choice.reference().exit();
            acc += out.accuracy() / 2;
            fin += (refExit < 0 ? check.finalAccuracy() : check.evaluate(new int[] {refExit}, 0.0).accuracy()) / 2;
            speed += CascadeSearch.cost(finalOnly, byMacs) / CascadeSearch.cost(out, byMacs) / 2;
            macSpeed += finalOnly.meanMacs() / out.meanMacs() / 2;
        }
        return new Validation(acc, fin, speed, macSpeed);
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
     * asked drop wins (speed-ups within {@link CascadeSearch#MS_TIE} of the fastest are a tie, decided by MACs);
     * when none does, the one with the smallest drop.
     *
     * @param seed picks the halves
     */
    public static Selection select(Cascade c, double maxDropPoints, boolean byMacs, long seed) {
        java.util.Map<Search, Validation> tried = new java.util.EnumMap<>(Search.class);
        record Tried(Search search, double budget, Validation v) { }
        List<Tried> within = new ArrayList<>();
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
                if (v.dropPoints() <= maxDropPoints + 1e-9) {
                    within.add(new Tried(s, b, v));
                }
                if (closestV == null || v.dropPoints() < closestV.dropPoints() - 1e-9) {
                    closest = s;
                    closestBudget = b;
                    closestV = v;
                }
            }
        }
        if (!byMacs && within.stream().anyMatch(t -> t.v().speedup() >= 1)) {
            // nor slower than the final exit out of half, where something at least as fast is within the drop
            within.removeIf(t -> t.v().speedup() < 1);
        }
        Tried pick = within.isEmpty() ? new Tried(closest, closestBudget, closestV)
                : CascadeSearch.fastest(within, t -> 1 / t.v().speedup(), t -> 1 / t.v().macSpeedup(), byMacs);
        Choice ch = choose(c, pick.budget(), byMacs, pick.search());
        Choice asked = new Choice(ch.cascade(), ch.finalAccuracy(), ch.finalMs(), ch.finalMacs(), maxDropPoints,
                ch.reference());
        return new Selection(asked, pick.search(), pick.v(), tried, null, pick.budget());
    }
}
