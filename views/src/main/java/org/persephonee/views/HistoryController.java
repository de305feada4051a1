package org.persephonee.views;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.eval.Confidence;
import org.persephonee.core.eval.Curve;
import org.persephonee.core.eval.Evaluation;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.personalise.LabelRegime;
import org.persephonee.core.workspace.RunComparison;
import org.persephonee.core.workspace.RunHistory;
import org.persephonee.core.workspace.RunRecord;
import org.persephonee.core.workspace.WorkspaceStore;

import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Run history: lists the runs kept in the workspace ({@code runs/}), adds each new one, and draws an earlier run's
 * cascade over the current curves (re-evaluated from its stored predictions on the engine thread; only for a run
 * made on the open backbone). Called on the thread that owns the model.
 */
public final class HistoryController {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("d MMM HH:mm", Locale.ROOT)
            .withZone(ZoneId.systemDefault());

    private final LabModel lab;
    private final HistoryModel model;
    private final LabTasks tasks;
    private final Consumer<String> error;

    private final RunController run;
    /** The regimes still to run in a comparison, and the one the person had chosen. */
    private final java.util.Deque<LabelRegime> pending = new java.util.ArrayDeque<>();
    private LabelRegime chosen;
    /** The earlier run drawn over the curves, or null. */
    private RunHistory.Entry drawn;
    /** Each regime of a "compare label regimes" so far: its name and its operating point's right test photos. */
    private final List<java.util.Map.Entry<String, boolean[]>> regimes = new ArrayList<>();

    HistoryController(LabModel lab, HistoryModel model, LabTasks tasks, WorkspaceStore store, LastRunKeeper kept,
                      RunController run, Consumer<String> error) {
        this.lab = lab;
        this.model = model;
        this.tasks = tasks;
        this.error = error;
        this.run = run;
        kept.onKept(e -> {
            model.runs().add(0, e);
            compare();
        });
        run.onFinished(this::comparisonRunFinished);
        run.onEnded(this::stopComparison);
        if (store != null) {
            tasks.io().execute(() -> {
                RunHistory.Listing l = new RunHistory(store.dir()).list();
                tasks.ui().execute(() -> {
                    model.runs().setAll(l.entries());
                    l.problems().forEach(p -> error.accept("A kept run could not be read: " + p));
                });
            });
        }
    }

    public HistoryModel model() { return model; }

    /**
     * "Compare label regimes": runs the placed exits three times on the same photos, without labels, with about 10 %
     * of the training photos labelled and with every label, one after the other in the background; the first two
     * runs' cascades stay drawn over the last one's curves. Refused without labels, without labelled test photos
     * (the regimes would each be scored on their own labels) or while a run goes.
     */
    public void compareLabelRegimes() {
        long train = lab.images().stream().filter(i -> !i.test()).count();
        long labelled = lab.images().stream().filter(i -> !i.test() && i.label() != null).count();
        if (labelled == 0) {
            error.accept("Comparing label regimes needs labelled training photos");
            return;
        }
        if (lab.images().stream().noneMatch(i -> i.test() && i.label() != null)) {
            // without test photos each regime is scored out of fold on its own labels (none on none): the three
            // figures would not be on the same photos, nor the same measure
            error.accept("Comparing label regimes needs labelled test photos to score all three on: without them each "
                    + "regime is scored on its own labels, out of fold (none on no label at all). Select some "
                    + "labelled photos and press Mark as test");
            return;
        }
        if (run.cannotStart().isPresent()) {
            error.accept(run.cannotStart().get());
            return;
        }
        chosen = lab.labels().get();
        pending.clear();
        double some = Math.min(1.0, 0.10 * train / labelled);
        pending.add(LabelRegime.NONE);
        if (some < 1.0) {
            pending.add(LabelRegime.parse(Double.toString(some)));
        }
        pending.add(LabelRegime.ALL);
        model.comparison().clear();
        model.regimesText().set("");
        regimes.clear();
        model.comparing().set(true);
        next();
    }

    private void next() {
        LabelRegime r = pending.poll();
        if (r == null) {
            model.comparing().set(false);
            lab.labels().set(chosen);
            return;
        }
        lab.labels().set(r);
        // from scratch: an update would start the run without labels from heads trained with them
        run.start(false);
    }

    private void comparisonRunFinished(RunController.Finished f) {
        org.persephonee.core.pipeline.PersonalisePipeline.Outcome o = f.outcome();
        if (!model.comparing().get()) {
            return;
        }
        String name = describe(lab.labels().get(), o.result().targets().labelled());
        if (!pending.isEmpty()) {
            Curve cascade = o.evaluation().curves().stream().filter(c -> c.exit() < 0).findFirst().orElse(null);
            if (cascade != null) {
                model.comparison().add(new HistoryModel.Overlay("labels " + name, cascade));
            }
        }
        if (o.result().scoredOnLabels()) {
            var op = o.choice().cascade();
            regimes.add(java.util.Map.entry(name, o.evaluation().cascade().rightPerImage(op.exits(), op.thresholds())));
        }
        if (pending.isEmpty()) {
            model.regimesText().set(regimesVerdict(regimes));
        }
        next();
    }

    /**
     * The other regimes against the last (every label), image by image on the same test photos: "Label regimes against
     * all (60), 74.7%, on the same 320 test photos: none 66.3% (-8.4 points, McNemar p < 0.001); some (46) ...". Empty
     * without labelled test photos.
     */
    static String regimesVerdict(List<java.util.Map.Entry<String, boolean[]>> regimes) {
        if (regimes.size() < 2) {
            return "";
        }
        var last = regimes.get(regimes.size() - 1);
        List<String> parts = new ArrayList<>();
        double lastAccuracy = Double.NaN;
        for (var r : regimes.subList(0, regimes.size() - 1)) {
            if (r.getValue().length != last.getValue().length) {
                return "";
            }
            org.persephonee.core.eval.PairedComparison c = org.persephonee.core.eval.PairedComparison.of(r.getValue(),
                    last.getValue());
            lastAccuracy = c.secondAccuracy();
            parts.add(String.format(Locale.ROOT, "%s %.1f%% (%+.1f points, McNemar p %s)", r.getKey(),
                    100 * c.firstAccuracy(), c.differencePoints(), c.p()));
        }
        return String.format(Locale.ROOT, "Label regimes against %s, %.1f%%, on the same %d test photos: %s",
                last.getKey(), 100 * lastAccuracy, last.getValue().length, String.join("; ", parts));
    }

    private void stopComparison() {
        if (model.comparing().get()) {
            pending.clear();
            model.comparing().set(false);
            lab.labels().set(chosen);
        }
    }

    private static String describe(LabelRegime r, int used) {
        return switch (r.kind()) {
            case NONE -> "none";
            case ALL -> "all (" + used + ")";
            case FRACTION -> "some (" + used + ")";
        };
    }

    /** The newest run against the one drawn, image by image (a few hundred comparisons: on this thread). */
    private void compare() {
        if (drawn == null || model.runs().isEmpty()) {
            model.comparisonText().set("");
            return;
        }
        RunHistory.Entry newest = model.runs().get(0);
        if (newest.number() == drawn.number()) {
            model.comparisonText().set("Run " + drawn.number() + " is the newest run: pick an earlier one to compare");
            return;
        }
        model.comparisonText().set(RunComparison.of(newest.record(), drawn.record())
                .describe(newest.number(), drawn.number()));
    }

    /** One line for a kept run: number, time, labels, operating point. */
    public static String describe(RunHistory.Entry e) {
        RunRecord r = e.record();
        String when = "";
        try {
            when = r.date == null ? "" : " \u00b7 " + TIME.format(Instant.parse(r.date));
        } catch (RuntimeException ignored) {
            // an unreadable date is left out
        }
        return String.format(Locale.ROOT, "run %d%s \u00b7 labels %s (%d used) \u00b7 %d exits \u00b7 %.1f%% at %.2fx",
                e.number(), when, regime(r.config.get("labels")), r.labelsUsed, r.exits.size(), 100 * r.accuracy,
                r.speedup);
    }

    /** A kept run's label regime as a person reads it: "all", "none", or a share of the labelled photos ("60 %"). */
    static String regime(Object labels) {
        if (labels == null) {
            return "?";
        }
        try {
            return new java.math.BigDecimal(100 * Double.parseDouble(labels.toString()))
                    .round(new java.math.MathContext(3)).stripTrailingZeros().toPlainString() + " %";
        } catch (NumberFormatException notAFraction) {
            return labels.toString();
        }
    }

    /** Draws {@code e}'s cascade over the current curves (null removes it) and compares it with the newest run. */
    public void overlay(RunHistory.Entry e) {
        drawn = e;
        compare();
        if (e == null) {
            model.overlay().set(null);
            return;
        }
        Backbone bb = lab.backbone().get();
        if (bb == null || !Objects.equals(e.record().backboneSha256, bb.parametersSha256())) {
            model.overlay().set(null);
            error.accept("Run " + e.number() + " was made on another backbone: its curves cannot be drawn here");
            return;
        }
        tasks.engine().execute(() -> {
            try {
                RunRecord r = e.record();
                List<ExitPlacement> placements = new ArrayList<>();
                for (String key : r.exits) {
                    placements.add(ExitPlacement.parse(key));
                }
                Evaluation ev = Evaluation.live(bb, placements, r.classes, r.refitFinal, r.profile(), r.predictions(),
                        null, r.finalEnsemble, Confidence.MAX_SOFTMAX);
                Curve cascade = ev.curves().stream().filter(c -> c.exit() < 0).findFirst().orElse(null);
                tasks.ui().execute(() -> model.overlay().set(cascade == null ? null
                        : new HistoryModel.Overlay("run " + e.number() + " (cascade)", cascade)));
            } catch (RuntimeException ex) {
                tasks.ui().execute(() -> error.accept("Run " + e.number() + " could not be drawn: " + ex.getMessage()));
            }
        });
    }
}
