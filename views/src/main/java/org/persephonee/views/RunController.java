package org.persephonee.views;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.eval.CascadeResult;
import org.persephonee.core.eval.Confidence;
import org.persephonee.core.eval.Evaluation;
import org.persephonee.core.eval.LatencyProfile;
import org.persephonee.core.eval.ThresholdSweep;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.personalise.EvalPredictions;
import org.persephonee.core.personalise.ExitStats;
import org.persephonee.core.personalise.PersonalisationConfig;
import org.persephonee.core.personalise.PersonalisationJob;
import org.persephonee.core.personalise.ResumeState;
import org.persephonee.core.pipeline.PersonalisePipeline;
import org.persephonee.core.review.ReviewQueue;

import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * A personalisation run: starts it in the background from the placed exits, the images and the settings, shows its
 * live epochs (throttled), adopts its operating point's thresholds when it ends and keeps it in the workspace;
 * cancelling keeps the earlier results. Called on the thread that owns the model.
 */
public final class RunController {
    private final LabModel model;
    private final LabTasks tasks;
    private final ExitsController exits;
    private final CurvesController curves;
    private final LastRunKeeper kept;
    private final Consumer<String> error;
    private final Runnable save;
    private final AtomicBoolean cancel = new AtomicBoolean();
    /** Live epochs on their way to the FX thread, drawn at most every {@link EpochThrottle#REDRAW_MS}. */
    private final EpochThrottle epochThrottle;
    /** The last finished run of this session (its heads stay open for export), or null. */
    private PersonalisePipeline.Outcome outcome;
    /**
     * A finished run and its review queue (ranked on the engine thread, once for the Review tab and the workspace).
     *
     * @param outcome the run
     * @param queue its unlabelled training photos in the order to label them ({@link ReviewQueue#DEFAULT})
     */
    public record Finished(PersonalisePipeline.Outcome outcome, List<ReviewQueue.Candidate> queue) { }

    /** Told about every finished run, on the thread that owns the model, after the model shows it. */
    private final List<Consumer<Finished>> finished = new java.util.ArrayList<>();
    /** Told when a run ends without a result (cancelled or failed). */
    private final List<Runnable> ended = new java.util.ArrayList<>();

    RunController(LabModel model, LabTasks tasks, ExitsController exits, CurvesController curves, LastRunKeeper kept,
                  Consumer<String> error, Runnable save) {
        this.model = model;
        this.tasks = tasks;
        this.exits = exits;
        this.curves = curves;
        this.kept = kept;
        this.error = error;
        this.save = save;
        this.epochThrottle = new EpochThrottle(tasks, model.running()::get);
    }

    /** The last finished run of this session, or null (none, or only one restored from the workspace). */
    PersonalisePipeline.Outcome outcome() {
        return outcome;
    }

    /** Calls {@code then} with every run that finishes, after the model shows it. */
    void onFinished(Consumer<Finished> then) {
        finished.add(then);
    }

    /** Calls {@code then} when a run ends without a result (cancelled or failed). */
    void onEnded(Runnable then) {
        ended.add(then);
    }

    /** True when a finished run's heads are available for export. */
    public boolean hasResults() {
        return (outcome != null || kept.ready()) && model.resultsFinal().get();
    }

    /** Why personalisation cannot start now, or empty. */
    public Optional<String> cannotStart() {
        if (model.running().get()) {
            return Optional.of("Personalisation is already running");
        }
        if (model.backbone().get() == null) {
            return Optional.of("Open a backbone first");
        }
        if (model.exits().isEmpty()) {
            return Optional.of("Drag a head from the palette onto a stage (or press Auto) to place exits");
        }
        if (model.images().isEmpty()) {
            return Optional.of("Import some images: drop files or folders on the Data tab");
        }
        return Optional.empty();
    }

    /** Starts personalisation in the background (an update of the last run when the setting allows and it can). */
    public void start() {
        start(true);
    }

    /**
     * Starts personalisation in the background.
     *
     * @param mayUpdate false to run from scratch whatever the setting says (a comparison of label regimes must not
     *                  start its runs from heads trained under another regime)
     */
    void start(boolean mayUpdate) {
        Optional<String> why = cannotStart();
        if (why.isPresent()) {
            error.accept(why.get());
            return;
        }
        Backbone bb = model.backbone().get();
        PersonalisationConfig cfg;
        try {
            cfg = PersonalisationConfig.builder()
                    .setPlacements(model.exits().stream().map(ExitModel::placement).toList())
                    .optLabels(model.labels().get()).optEpochs(model.epochs().get())
                    .optLearningRate((float) model.learningRate().get())
                    .optPseudoLabelThreshold((float) model.pseudoThreshold().get())
                    .optTemperature((float) model.temperature().get()).optTeacher(model.teacher().get())
                    .optFinalRefit(model.finalRefit().get())
                    .optSeed(model.seed().get())
                    .optLabelsChosen(model.images().stream().anyMatch(i -> i.reviewed() && !i.test()))
                    .optClasses(java.util.Arrays.asList(model.classes().get().split(",")))
                    .build();
        } catch (IllegalArgumentException e) {
            error.accept("Settings: " + e.getMessage());
            return;
        }
        List<ExitPlacement> placements = cfg.placements().stream()
                .sorted(Comparator.comparingInt(p -> bb.stage(p.stage()).index())).toList();
        PersonalDataset ds = new PersonalDataset(null, model.images().stream().map(ImageItem::toPersonalImage).toList());
        java.nio.file.Path memo = kept.featureMemo();
        java.nio.file.Path resumeFrom = mayUpdate && model.updateLastRun().get() && !model.curvesStale().get()
                ? kept.resumable() : null;
        double maxDrop = model.maxDrop().get();
        LatencyProfile stageProfile = model.stageProfile().get();
        java.nio.file.Path device = model.deviceProfile().get();
        cancel.set(false);
        epochThrottle.newRun();
        model.running().set(true);
        model.resultsFinal().set(false);
        model.liveStats().clear();
        model.progress().set(0);
        model.phase().set("Starting");
        model.status().set("Personalising " + placements.size() + " exits on " + ds.size() + " images ...");
        long started = System.nanoTime();
        tasks.engine().execute(() -> {
            PersonalisationJob.Listener l = new LiveListener(bb, placements, stageProfile);
            try {
                PersonalisationConfig runCfg = LastRunKeeper.withMemoAndResume(cfg, memo, resumeFrom);
                PersonalisePipeline.Outcome o = PersonalisePipeline.run(bb, ds, runCfg,
                        new PersonalisePipeline.Options(maxDrop, Confidence.MAX_SOFTMAX, false, device, 15), l,
                        cancel::get);
                o.evaluation().curves();
                CascadeResult op = o.choice().cascade();
                List<ReviewQueue.Candidate> queue = ReviewQueue.rank(o.result(), op.exits(), op.thresholds(),
                        ReviewQueue.DEFAULT, o.result().config().seed());
                tasks.ui().execute(() -> finish(new Finished(o, queue), started));
            } catch (CancellationException e) {
                tasks.ui().execute(() -> {
                    ended("Cancelled");
                    model.status().set("Personalisation cancelled; earlier results are kept");
                });
            } catch (Exception e) {
                tasks.ui().execute(() -> {
                    ended("Failed");
                    error.accept("Personalisation failed: " + e.getMessage());
                });
            }
        });
    }

    /** The run ended without a result: the earlier results (if any) come back. */
    private void ended(String phase) {
        model.running().set(false);
        model.phase().set(phase);
        model.progress().set(0);
        if (outcome != null) {
            model.evaluation().set(outcome.evaluation());
            model.resultsFinal().set(true);
        } else {
            model.evaluation().set(null);
        }
        curves.recompute();
        ended.forEach(Runnable::run);
    }

    /**
     * Costs this session's last run with a device latency profile (or, with null, this machine's timings again) and
     * shows its curves so: what the exits would buy on that device. Thresholds stay as they are. Later runs use the
     * same profile.
     */
    public void useDeviceProfile(java.nio.file.Path profile) {
        model.deviceProfile().set(profile);
        PersonalisePipeline.Outcome o = outcome;
        Backbone bb = model.backbone().get();
        if (o == null || bb == null || model.running().get()) {
            model.status().set(profile == null ? "Latency measured on this machine from the next run on"
                    : "Device profile " + profile.getFileName() + " is used from the next run on"
                    + (o == null ? " (personalise once in this session to see this run's curves with it)" : ""));
            return;
        }
        double maxDrop = model.maxDrop().get();
        tasks.engine().execute(() -> {
            try {
                PersonalisePipeline.Outcome w = PersonalisePipeline.evaluate(bb, o.result(), new PersonalisePipeline
                        .Options(maxDrop, Confidence.MAX_SOFTMAX, false, profile, 15), PersonalisationJob.SILENT);
                w.evaluation().curves();
                tasks.ui().execute(() -> {
                    if (outcome != o) {
                        return;
                    }
                    // the same trained heads: the new outcome shares the result, so the old one is not closed
                    outcome = w;
                    model.evaluation().set(w.evaluation());
                    curves.recompute();
                    model.status().set("Curves costed with " + w.profile().source() + String.format(Locale.ROOT,
                            " (backbone %.2f ms per image)", w.profile().backboneMs()));
                });
            } catch (java.io.IOException | RuntimeException e) {
                tasks.ui().execute(() -> {
                    model.deviceProfile().set(null);
                    error.accept("Device profile not used: " + e.getMessage());
                });
            }
        });
    }

    /** Asks a running personalisation to stop (it stops within a second). */
    public void cancel() {
        cancel.set(true);
        model.status().set("Cancelling ...");
    }

    /** Phases, progress and live epochs of a run, from the engine thread to the model. */
    private final class LiveListener implements PersonalisationJob.Listener {
        private final Backbone bb;
        private final List<ExitPlacement> placements;
        private final LatencyProfile stageProfile;
        private volatile long lastUi;

        LiveListener(Backbone bb, List<ExitPlacement> placements, LatencyProfile stageProfile) {
            this.bb = bb;
            this.placements = placements;
            this.stageProfile = stageProfile;
        }

        @Override
        public void onPhase(PersonalisationJob.Phase phase, String message) {
            tasks.ui().execute(() -> {
                // a step within the same phase (a second round, the next fold) carries on the phase's bar
                if (!phase.display().equals(model.phase().get())) {
                    model.progress().set(0);
                    model.eta().set("");
                }
                model.phase().set(phase.display());
                model.status().set(message);
            });
        }

        @Override
        public void onProgress(PersonalisationJob.Phase phase, double fraction, double etaSeconds) {
            long now = System.nanoTime();
            if (now - lastUi < 50_000_000L && fraction < 1) {
                return;
            }
            lastUi = now;
            tasks.ui().execute(() -> {
                model.progress().set(fraction);
                model.eta().set(RunSummary.eta(etaSeconds));
            });
        }

        @Override
        public void onEpoch(int epoch, int epochs, List<ExitStats> stats, EvalPredictions snapshot) {
            if (snapshot.size() == 0) {
                // no test photos: nothing to draw until the validation scores the training photos out of fold
                epochThrottle.offer(() -> {
                    model.liveStats().setAll(stats);
                    model.phase().set("Training exits: epoch " + epoch + " / " + epochs + " (no test photos: the "
                            + "curves come from the training photos, out of fold, when the run ends)");
                    // the last run's curves would read as this one's, "live": none until the end (a cancel puts
                    // the last run's back)
                    if (model.evaluation().get() != null) {
                        model.evaluation().set(null);
                        curves.recompute();
                    }
                });
                return;
            }
            // the stages' times from the model, or timed here on the engine thread when the run started first
            LatencyProfile profile = exits.profileFor(bb, stageProfile);
            Evaluation live = Evaluation.live(bb, placements, snapshot.classes(),
                    stats.stream().anyMatch(ExitStats::isRefitFinal), profile, snapshot, Confidence.MAX_SOFTMAX);
            live.curves();  // swept here, not on the FX thread
            // latest epoch wins: while the FX thread has not drawn the previous one, replace it
            epochThrottle.offer(() -> {
                model.liveStats().setAll(stats);
                model.phase().set("Training exits: epoch " + epoch + " / " + epochs);
                model.evaluation().set(live);
                curves.recompute();
            });
        }
    }

    private void finish(Finished f, long started) {
        PersonalisePipeline.Outcome o = f.outcome();
        PersonalisePipeline.Outcome old = outcome;
        outcome = o;
        if (old != null) {
            tasks.engine().execute(old::close);
        }
        List<String> keys = o.evaluation().exitNames();
        model.genericAccuracy().set(o.result().genericAccuracy());
        model.scoredPhotosProperty().set(o.result().scoredPhotos());
        model.evalPaths().set(o.result().data().evalImages().stream().map(i -> i.path()).toList());
        model.labelSpace().set(o.result().labelSpace().names());
        model.labelSpaceGuessed().set(o.result().labelSpaceGuessed());
        model.labelSpaceLeftOut().set(o.result().labelSpaceLeftOut());
        model.refitChoice().set(o.result().refitChoice());
        model.resultsFinal().set(true);
        model.evaluation().set(o.evaluation());
        // adopt the operating point's thresholds; exits it dropped get a threshold above 1
        CascadeResult c = o.choice().cascade();
        for (ExitModel e : model.exits()) {
            int idx = keys.indexOf(e.key());
            double t = ThresholdSweep.OFF;
            for (int p = 0; p < c.exits().length; p++) {
                if (c.exits()[p] == idx) {
                    t = c.thresholds()[p];
                }
            }
            e.thresholdProperty().set(t);
        }
        // one threshold shared by the cascade's exits: the global slider shows it (its label says when other exits
        // are off)
        if (c.exits().length > 0 && Arrays.stream(c.thresholds()).distinct().count() == 1) {
            model.globalThreshold().set(c.thresholds()[0]);
        }
        model.running().set(false);
        model.phase().set("Done");
        model.progress().set(1);
        model.eta().set("");
        curves.recompute();
        kept.keep(o, f.queue());
        model.status().set(RunSummary.of(o, started));
        save.run();
        finished.forEach(l -> l.accept(f));
    }

    /** Stops a run and frees the last one's native memory (on exit). */
    void shutdown() {
        cancel.set(true);
        if (outcome != null) {
            outcome.close();
        }
    }
}
