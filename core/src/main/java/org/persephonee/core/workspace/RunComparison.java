package org.persephonee.core.workspace;

import org.persephonee.core.eval.PairedComparison;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Two kept runs' operating points on the labelled evaluation images they share (matched by file): the paired
 * comparison, or why there is none.
 *
 * @param paired the comparison (first = the newer run), or null
 * @param problem why there is no comparison, or null
 * @param outOfFold true when both runs had no test images and were scored on their training images out of fold
 */
public record RunComparison(PairedComparison paired, String problem, boolean outOfFold) {

    /** A comparison on test images (or a problem). */
    public RunComparison(PairedComparison paired, String problem) {
        this(paired, problem, false);
    }

    /** Compares {@code newer}'s operating point with {@code older}'s. */
    public static RunComparison of(RunRecord newer, RunRecord older) {
        Map<String, Boolean> a = newer.operatingPointCorrect();
        Map<String, Boolean> b = older.operatingPointCorrect();
        if (a == null || b == null) {
            return new RunComparison(null, "a run kept before the lab recorded its operating point cannot be compared "
                    + "image by image");
        }
        List<String> shared = new ArrayList<>();
        for (String path : a.keySet()) {
            if (b.containsKey(path)) {
                shared.add(path);
            }
        }
        if (shared.isEmpty()) {
            return new RunComparison(null, a.isEmpty() || b.isEmpty() ? "the evaluation images have no labels"
                    : "the two runs share no labelled evaluation image");
        }
        boolean[] x = new boolean[shared.size()];
        boolean[] y = new boolean[shared.size()];
        for (int i = 0; i < shared.size(); i++) {
            x[i] = a.get(shared.get(i));
            y[i] = b.get(shared.get(i));
        }
        return new RunComparison(PairedComparison.of(x, y), null, newer.scoredOutOfFold && older.scoredOutOfFold);
    }

    /** One sentence for the person: "Run 3 against run 1: ..." */
    public String describe(int newerNumber, int olderNumber) {
        String head = "Run " + newerNumber + " against run " + olderNumber + ": ";
        return paired == null ? head + problem : head + paired.describe(outOfFold ? "training images, out of fold"
                : "test images");
    }
}
