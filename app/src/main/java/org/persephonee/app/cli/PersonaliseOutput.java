package org.persephonee.app.cli;

import org.persephonee.core.personalise.EvalPredictions;
import org.persephonee.core.personalise.ExitStats;
import org.persephonee.core.personalise.PersonalisationJob;
import org.persephonee.core.pipeline.PersonaliseReport;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** What {@code personalise} prints: progress lines on stderr while it runs, and its report as text. */
final class PersonaliseOutput {

    private PersonaliseOutput() { }

    /** Progress lines on stderr. */
    static PersonalisationJob.Listener progress(PrintStream err) {
        return new PersonalisationJob.Listener() {
            private long lastPrint;

            @Override
            public void onPhase(PersonalisationJob.Phase phase, String message) {
                err.println("[" + phase.display() + "] " + message);
            }

            @Override
            public void onProgress(PersonalisationJob.Phase phase, double fraction, double eta) {
                long now = System.nanoTime();
                // training prints its epochs, validation its folds
                if (phase != PersonalisationJob.Phase.TRAIN && phase != PersonalisationJob.Phase.VALIDATE
                        && now - lastPrint > 2_000_000_000L && fraction < 1) {
                    err.printf(Locale.ROOT, "  %s %3.0f%%, about %s left%n", phase.display(), fraction * 100,
                            Durations.format(eta));
                    lastPrint = now;
                }
            }

            @Override
            public void onEpoch(int epoch, int epochs, List<ExitStats> stats, EvalPredictions snapshot) {
                if (epoch == 1 || epoch == epochs || epoch % 5 == 0) {
                    StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "  epoch %d/%d", epoch, epochs));
                    for (ExitStats s : stats) {
                        if (snapshot.size() == 0 && s.isFinal()) {
                            continue;
                        }
                        // no test images: nothing to score until the validation; the training loss instead
                        sb.append(snapshot.size() == 0
                                ? String.format(Locale.ROOT, "  %s loss %.3f", s.stage(), s.trainLoss())
                                : String.format(Locale.ROOT, "  %s %.3f", s.stage(), s.evalAccuracy()));
                    }
                    if (snapshot.size() == 0 && epoch == 1) {
                        sb.append("  (no test images: accuracy comes from the validation, out of fold)");
                    }
                    err.println(sb);
                }
            }
        };
    }

    /** The report as text for a person. */
    static void printSummary(PrintStream out, PersonaliseReport r) {
        boolean labels = r.onLabels();
        String metric = labels ? "accuracy" : "agreement";
        Object from = r.provenance().get("label_space_from");
        out.printf(Locale.ROOT, "label space: %s%s%n", r.labelSpace(), from == null ? "" : " (from " + from + ")");
        if (Boolean.TRUE.equals(r.provenance().get("label_space_guessed"))) {
            out.println("  a capture shift misleads this (night-owl: 7 classes for its 5); where these are not the "
                    + "person's classes, name them: --classes NAME,...");
            if (r.provenance().get("label_space_left_out") instanceof java.util.List<?> left && !left.isEmpty()) {
                out.println("  left out, though the backbone named it first for many photos (it was seldom sure): "
                        + left.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining("; "))
                        + "; if the person owns " + (left.size() == 1 ? "it" : "any of them") + ", name the classes");
            }
        }
        out.printf(Locale.ROOT, "evaluated on: %s%n", r.evaluation());
        if (labels) {
            out.printf(Locale.ROOT, "generic backbone accuracy:      %6.2f%%%n", 100 * r.genericAccuracy());
            out.printf(Locale.ROOT, "personalised final exit:        %6.2f%%%n", 100 * r.personalisedFinalAccuracy());
            if (r.provenance().get("refit_choice") != null) {
                out.printf(Locale.ROOT, "  final classifier %s%n", r.provenance().get("refit_choice"));
            }
            if (r.provenance().get("retrain_choice") != null) {
                out.printf(Locale.ROOT, "  re-trained stages %s (%s)%n", r.provenance().get("retrained_stages"),
                        r.provenance().get("retrain_choice"));
            }
        } else {
            out.println("generic backbone accuracy:      unknown (no labels)");
            out.println("personalised final exit:        the teacher (no labels): every figure below is agreement "
                    + "with it, not accuracy");
        }
        Object ensemble = r.provenance().get("final_ensemble_choice");
        if (ensemble != null) {
            out.printf(Locale.ROOT, "  final exit: %s%n", ensemble);
        }
        Object headsFrom = r.provenance().get("heads_from");
        if (headsFrom != null) {
            out.printf(Locale.ROOT, "  heads: %s%n", headsFrom);
        }
        for (PersonaliseReport.Exit e : r.exits()) {
            out.printf(Locale.ROOT, "  exit %-8s %-10s %6.2f%% %s  head %.3f ms%n", e.stage(), e.head(),
                    100 * e.accuracy(), metric, e.headMs());
        }
        PersonaliseReport.Point op = r.operatingPoint();
        String interval = op.interval95() == null ? "" : String.format(Locale.ROOT, " (95%% interval %.1f-%.1f%%)",
                100 * op.interval95()[0], 100 * op.interval95()[1]);
        out.printf(Locale.ROOT, "operating point: %.2f%% " + metric + "%s at %.3f ms (%.2fx faster than the "
                        + "personalised final exit, %.2fx fewer MACs)%n", 100 * op.accuracy(), interval, op.latencyMs(),
                op.speedup(), op.macSpeedup());
        for (PersonaliseReport.Selected e : op.exits()) {
            out.printf(Locale.ROOT, "  leave at %-8s if confidence >= %.3f  (%.1f%% of images)%n", e.stage(),
                    e.threshold(), 100 * e.share());
        }
        PersonaliseReport.Reference ref = op.reference();
        // without labels in the training images, validation scores agreement with a teacher head, not accuracy
        boolean agreement = op.validation() != null && op.validation().labelledImages() == 0;
        if (ref != null) {
            out.printf(Locale.ROOT, "  held within %.1f points of the best head, %s (%.2f%% here%s)%n",
                    op.maxDropPoints(), ref.head(), 100 * ref.accuracy(), ref.validationAccuracy() == null ? ""
                            : String.format(Locale.ROOT, ", %.2f%% %sin validation", 100 * ref.validationAccuracy(),
                                    agreement ? "agreement " : ""));
        }
        out.printf(Locale.ROOT, "  chosen on %s%n", op.chosenOn());
        if (op.budgetPoints() < op.maxDropPoints() - 1e-9) {
            out.printf(Locale.ROOT, "  searched within %.1f points there: with the full %.1f its picks lost more out of "
                    + "sample (%s)%n", op.budgetPoints(), op.maxDropPoints(), op.search());
        }
        if (op.validation() != null) {
            double[] vi = op.validation().interval95();
            out.printf(Locale.ROOT, "  validation estimate: %.2f%% %s%s at %.2fx faster%n", 100 * op.validation().accuracy(),
                    agreement ? "agreement with the personalised final exit (no labels to score it: not an accuracy)" : metric,
                    vi == null ? "" : String.format(Locale.ROOT, " (95%% interval %.1f-%.1f%% on %d labelled "
                            + "training images; chosen on them, so if anything optimistic)", 100 * vi[0], 100 * vi[1],
                            op.validation().labelledImages()), op.validation().speedup());
        }
        if (r.latencyMs() != null) {
            StringBuilder sb = new StringBuilder();
            r.latencyMs().forEach((k, e) -> {
                sb.append(String.format(Locale.ROOT, " %s %.3f", k, e.median()));
                if (e.iqr() != null) {
                    sb.append(String.format(Locale.ROOT, " (IQR %.3f)", e.iqr()));
                }
                sb.append(',');
            });
            out.printf(Locale.ROOT, "latency, ms per image (%s):%s%n", r.latencySource(),
                    sb.substring(0, Math.max(0, sb.length() - 1)));
        }
        out.printf(Locale.ROOT, "time: feature cache %.1f s, head training %.1f s%n", r.timing().featureCacheS(),
                r.timing().headTrainingS());
        if (r.provenance() != null && r.provenance().get("resumed") instanceof Map<?, ?> resumed) {
            // what --resume carried on, started fresh or kept: otherwise only in the JSON report
            out.printf(Locale.ROOT, "resumed from %s%n", resumed.get("from"));
            if (resumed.get("notes") instanceof List<?> notes) {
                notes.forEach(n -> out.println("  " + n));
            }
        }
        out.println("bundle: " + (r.bundle() == null ? "(not written)" : r.bundle()));
    }
}
