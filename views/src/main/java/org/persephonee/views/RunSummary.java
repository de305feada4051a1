package org.persephonee.views;

import org.persephonee.core.eval.CascadeResult;
import org.persephonee.core.eval.OperatingPoint;
import org.persephonee.core.pipeline.PersonalisePipeline;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The words a run leaves in the status bar: time left while it trains, and when it ends its warnings, accuracy,
 * the operating point's shape and its validation estimate.
 */
final class RunSummary {

    private RunSummary() { }

    /** "12 s left", "2 min 5 s left", or nothing for an unknown estimate. */
    static String eta(double s) {
        if (Double.isNaN(s) || Double.isInfinite(s)) {
            return "";
        }
        long r = Math.round(s);
        return r < 1 ? "under 1 s left" : r < 60 ? r + " s left" : (r / 60) + " min " + (r % 60) + " s left";
    }

    /** The status line a finished run leaves: warnings, accuracy, the operating point and its validation estimate. */
    static String of(PersonalisePipeline.Outcome o, long started) {
        OperatingPoint.Validation v = o.selection().validation();
        OperatingPoint.Choice on = o.selection().chosenOn();
        CascadeResult c = o.choice().cascade();
        String cv;
        if (o.result().scoredOutOfFold() && o.result().scoredOnLabels()) {
            // no test photos: the figures above are the validation estimate itself, chosen on these same photos
            cv = String.format(Locale.ROOT, "; on %d labelled training photos, out of fold: no test photos",
                    o.result().predictions().scoredCount());
        } else if (on != null && o.result().validation().labelled()) {
            // the figure a person without test photos gets: the choice on their own labelled photos, out of fold
            // short enough for the line to fit a 1440-px window (it was cut at "out of fo..."); the speed-up only
            // when the validation's differs from the test images'
            boolean sameSpeedup = Math.abs(on.speedup() - o.choice().speedup()) < 0.005;
            cv = String.format(Locale.ROOT, "; validation %.1f%%%s on %d labelled training photos, out of fold",
                    100 * o.evaluation().validationLabelledCascade().evaluate(on.cascade().exits(),
                            on.cascade().thresholds()).accuracy(),
                    sameSpeedup ? "" : String.format(Locale.ROOT, " at %.2fx", on.speedup()),
                    o.result().validation().scoredCount());
        } else {
            cv = v == null ? "" : String.format(Locale.ROOT, "; %.1f points below the best head on held-out halves",
                    v.dropPoints());
        }
        List<String> problems = PersonalisePipeline.problems(o);
        double seconds = (System.nanoTime() - started) / 1e9;
        var resumed = o.result().resumed();
        // after the figures: a long line is cut at the window's edge, and the timeline shows updates too
        // a run that kept the last one's heads says so first: the rest of the line is the last run's figures
        String kept = resumed != null && !resumed.trained()
                ? "Nothing new since the last run (the same photos, labels and settings): its heads kept, untrained. "
                : "";
        String update = resumed == null || !resumed.trained() ? "" : resumed.warm()
                ? String.format(Locale.ROOT, ". Updated the last run (the backbone ran on %d new photo(s))",
                        o.result().cacheUse().computed())
                        // settings changed since: the heads carried on were trained with the earlier ones
                        + resumed.notes().stream().filter(n -> n.startsWith("the training settings changed"))
                                .map(n -> "; " + n).findFirst().orElse("")
                : ". From scratch (" + String.join("; ", resumed.notes()) + ")";
        return (problems.isEmpty() ? "" : "Warning: " + String.join("; ", problems) + ". ") + kept
                + (o.result().scoredOnLabels()
                ? String.format(Locale.ROOT, "Done in %.0f s (training %.1f s): personal %.1f%% "
                        + "(generic %.1f%%); operating point %.1f%% at %.2fx faster (%s%s)",
                seconds, o.result().timing().training(), 100 * o.result().finalAccuracy(),
                100 * o.result().genericAccuracy(), 100 * c.accuracy(), o.choice().speedup(),
                shape(c, o.evaluation().exitNames()), cv)
                : String.format(Locale.ROOT, "Done in %.0f s (training %.1f s), no labels: figures are agreement "
                        + "with the personalised final exit (the teacher), not accuracy; operating point %.1f%% "
                        + "agreement at %.2fx faster (%s%s)", seconds, o.result().timing().training(),
                100 * c.accuracy(), o.choice().speedup(), shape(c, o.evaluation().exitNames()), cv)) + update
                + guessedClasses(o);
    }

    /**
     * With no labels and no classes named, the classes are the backbone's confident guesses, which a capture shift
     * misleads (night-owl: 7 or 8 for its 5): the line says so and where to name them.
     */
    static String guessedClasses(PersonalisePipeline.Outcome o) {
        if (!o.result().labelSpaceGuessed()) {
            return "";
        }
        List<String> names = o.result().labelSpace().names();
        return ". Classes guessed without labels (" + names.size() + ": " + String.join(", ", names)
                + "): if they are not the person's, name them in Settings, Person's classes";
    }

    /**
     * What the operating point is, in a few words: "final exit only", "block7:grid alone", "3 exits at threshold
     * 0.75" or "3 exits, per-exit thresholds" (the status line named the search instead, "one global threshold", also
     * when the cascade kept a single exit at 0.00).
     */
    static String shape(CascadeResult c, List<String> names) {
        int n = c.exits().length;
        if (n == 0) {
            return "final exit only";
        }
        if (n == 1 && c.thresholds()[0] <= 0) {
            return names.get(c.exits()[0]) + " alone";
        }
        if (Arrays.stream(c.thresholds()).distinct().count() == 1) {
            return String.format(Locale.ROOT, "%d exit%s at threshold %.2f", n, n == 1 ? "" : "s", c.thresholds()[0]);
        }
        return n + " exits, per-exit thresholds";
    }
}
