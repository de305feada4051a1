package org.persephonee.views;

import javafx.collections.ListChangeListener;
import org.persephonee.core.eval.ThresholdSweep;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.backbone.Stage;
import org.persephonee.core.data.ImageImporter;
import org.persephonee.core.data.LabelSpace;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.data.PersonalImage;
import org.persephonee.core.data.SkippedFile;
import org.persephonee.core.eval.CascadeResult;
import org.persephonee.core.eval.Confidence;
import org.persephonee.core.eval.Evaluation;
import org.persephonee.core.eval.LatencyProfile;
import org.persephonee.core.eval.OperatingPoint;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;
import org.persephonee.core.exits.HeadType;
import org.persephonee.core.export.BundleWriter;
import org.persephonee.core.personalise.EvalPredictions;
import org.persephonee.core.personalise.ExitStats;
import org.persephonee.core.personalise.LabelRegime;
import org.persephonee.core.personalise.PersonalisationConfig;
import org.persephonee.core.personalise.PersonalisationJob;
import org.persephonee.core.pipeline.PersonalisePipeline;
import org.persephonee.core.workspace.WorkspaceState;
import org.persephonee.core.workspace.WorkspaceStore;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * The lab's actions. Reads inputs on the FX thread, runs engine work on the injected executor, applies
 * results on the FX thread; the latest task of a kind wins.
 */
public final class LabController {
    private final LabModel model;
    private final Executor engine;
    private final Executor io;
    /** Runs results on the thread that owns the model (the JavaFX thread in the lab). */
    private final Executor ui;
    private final WorkspaceStore store;
    /** Live epochs on their way to the FX thread, drawn at most every {@link EpochThrottle#REDRAW_MS}. */
    private final EpochThrottle epochThrottle;
    /** Saves and restores the workspace. */
    private final WorkspaceSync sync;
    private final AtomicBoolean cancel = new AtomicBoolean();
    private PersonalisePipeline.Outcome outcome;
    private List<String> resultKeys = List.of();
    private long importGeneration;
    private Consumer<String> notifier = s -> { };
    /** The last run kept in the workspace (a bundle with every exit plus run.json), once written. */
    private volatile boolean lastRunReady;

    /**
     * Gathers the engine diagnostics ({@code persephonee doctor}) in the background and hands the text to
     * {@code show} on the FX thread.
     *
     * @param show receives the report text, never {@code null}
     */
    public void diagnostics(java.util.function.Consumer<String> show) {
        io.execute(() -> {
            String text;
            try {
                text = String.join("\n", org.persephonee.core.engine.Doctor.lines(
                        org.persephonee.core.engine.Doctor.report()));
            } catch (RuntimeException | LinkageError e) {
                text = "The engine could not start: " + e.getMessage();
            }
            String t = text;
            ui.execute(() -> show.accept(t));
        });
    }

    /**
     * Creates the controller, engine and I/O work on the given executors and results on the JavaFX thread.
     *
     * @param engine runs engine work (one task at a time is expected)
     * @param io runs workspace saves
     * @param store the workspace store, or null to keep nothing between runs
     */
    public LabController(LabModel model, Executor engine, Executor io, WorkspaceStore store) {
        this(model, LabTasks.fx(engine, io), store);
    }

    /**
     * Creates the controller on the given tasks ({@link LabTasks#sameThread()} drives it from a test without the
     * JavaFX toolkit).
     *
     * @param store the workspace store, or null to keep nothing between runs
     */
    public LabController(LabModel model, LabTasks tasks, WorkspaceStore store) {
        this.model = model;
        this.engine = tasks.engine();
        this.io = tasks.io();
        this.ui = tasks.ui();
        this.store = store;
        model.exits.addListener((ListChangeListener<ExitModel>) c -> {
            recompute();
            save();
        });
        model.images.addListener((ListChangeListener<ImageItem>) c -> save());
        model.globalThreshold.addListener((o, a, b) -> save());
        WorkspaceSettings settings = new WorkspaceSettings(model);
        WorkspaceSaver saver = store == null ? null : new WorkspaceSaver(store, io, ui, model.status::set, this::error);
        this.sync = new WorkspaceSync(model, settings, saver, new WorkspaceSync.Host() {
            @Override public void openBackbone(Path dir, Runnable then, Runnable failed) {
                LabController.this.openBackbone(dir, then, failed);
            }

            @Override public Optional<String> addExit(String stage, HeadType type) {
                return LabController.this.addExit(stage, type);
            }

            @Override public void importPaths(List<Path> paths) { LabController.this.importPaths(paths); }

            @Override public void restoreLastRun() {
                lastRunReady = true;
                restoreRun();
            }

            @Override public boolean lastRunReady() { return lastRunReady; }

            @Override public void error(String message) { LabController.this.error(message); }
        });
        this.epochThrottle = new EpochThrottle(model.running::get);
        for (javafx.beans.value.ObservableValue<?> v : settings.properties()) {
            v.addListener((o, a, b) -> save());
        }
    }

    public LabModel model() { return model; }

    /** Receives short success messages (the view shows them as notifications). */
    public void setNotifier(Consumer<String> n) { this.notifier = n; }

    private void error(String message) {
        // also on the terminal a lab was started from: what a user pastes into a bug report
        System.err.println("persephonee: " + message);
        model.errors.add(message);
        model.status.set(message);
    }

    // ---------------------------------------------------------------- backbone

    /**
     * The last stage profile measured, and its backbone: written and read on the engine thread (a run started
     * before the profile reached the model reads it there).
     */
    private LatencyProfile measuredProfile;
    private Backbone measuredBackbone;

    /** Opens a backbone folder in the background, then measures its stages. */
    public void openBackbone(Path dir) {
        openBackbone(dir, null, null);
    }

    /** {@code then} runs instead of the save once the backbone is open; {@code failed} after a failure. */
    private void openBackbone(Path dir, Runnable then, Runnable failed) {
        if (model.running.get()) {
            error("Cannot open another backbone while personalisation runs: cancel it first");
            return;
        }
        model.status.set("Opening backbone " + dir + " (the first start also unpacks the native engine) ...");
        model.phase.set("Loading backbone");
        model.progress.set(-1);
        engine.execute(() -> {
            try {
                Backbone bb = BackboneIO.load(dir);
                StartupTimeline.mark("backbone loaded");
                // measured before the backbone reaches the model: once it is there, other work may use it (showing
                // it first and timing it behind crashed libtorch in a test: a freed BatchNorm tensor)
                LatencyProfile profile = LatencyProfile.measureStages(bb, 15);
                measuredProfile = profile;
                measuredBackbone = bb;
                ui.execute(() -> {
                    model.phase.set("");
                    model.progress.set(0);
                    Backbone old = model.backbone.get();
                    clearResults();
                    model.backbone.set(bb);
                    model.stageProfile.set(profile);
                    StartupTimeline.mark("backbone shown");
                    Set<String> names = new HashSet<>();
                    bb.stages().forEach(s -> names.add(s.name()));
                    model.exits.removeIf(e -> !names.contains(e.stage()) || isLast(bb, e.stage()));
                    model.status.set("Opened " + bb.name() + ": " + bb.stages().size() + " stages, "
                            + String.format(Locale.ROOT, "%.1f ms per image here", profile.backboneMs()));
                    if (old != null && old != bb) {
                        engine.execute(old::close);
                    }
                    if (then != null) {
                        then.run();
                    } else {
                        sync.placeUnapplied();
                        save();
                    }
                });
            } catch (Exception e) {
                ui.execute(() -> {
                    model.phase.set("");
                    model.progress.set(0);
                    error("Could not open backbone: " + e.getMessage());
                    if (failed != null) {
                        failed.run();
                    }
                });
            }
        });
    }

    private static boolean isLast(Backbone bb, String stage) {
        return bb.stages().get(bb.stages().size() - 1).name().equals(stage);
    }

    /**
     * Attaches an exit; returns the reason when refused.
     *
     * @param stage stage name
     * @param type head type
     */
    public Optional<String> addExit(String stage, HeadType type) {
        Backbone bb = model.backbone.get();
        if (bb == null) {
            return Optional.of("Open a backbone first");
        }
        Stage st = bb.stage(stage);
        if (st == null) {
            return Optional.of("No stage '" + stage + "'");
        }
        if (isLast(bb, stage)) {
            return Optional.of("The final classifier already sits after " + stage + ": attach exits to earlier stages");
        }
        if (model.exits.stream().anyMatch(e -> e.stage().equals(stage))) {
            return Optional.of(stage + " already has an exit: select it to change its head");
        }
        if (model.running.get()) {
            return Optional.of("Wait for personalisation to finish (or cancel it) before changing exits");
        }
        ExitModel e = new ExitModel(stage, HeadSpec.of(type), model.globalThreshold.get());
        e.headProperty().addListener((o, a, b) -> save());
        e.thresholdProperty().addListener((o, a, b) -> save());
        model.exits.add(e);
        model.exits.sort(Comparator.comparingInt(x -> bb.stage(x.stage()).index()));
        model.selectedExit.set(e);
        return Optional.empty();
    }

    /** Removes an exit. */
    public void removeExit(ExitModel e) {
        if (model.running.get()) {
            error("Wait for personalisation to finish (or cancel it) before changing exits");
            return;
        }
        model.exits.remove(e);
        if (model.selectedExit.get() == e) {
            model.selectedExit.set(null);
        }
    }

    /** Proposes exits: a conv head after every stage but the last. */
    public void autoPlace() {
        Backbone bb = model.backbone.get();
        if (bb == null || model.running.get()) {
            return;
        }
        for (ExitPlacement p : ExitPlacement.auto(bb)) {
            if (model.exits.stream().noneMatch(e -> e.stage().equals(p.stage()))) {
                addExit(p.stage(), p.head().type());
            }
        }
        model.status.set("Proposed " + model.exits.size() + " exits; personalise to see which pay off");
    }

    // ---------------------------------------------------------------- data

    /** Imports dropped or chosen files and folders in the background. */
    public void importPaths(List<Path> paths) {
        Backbone bb = model.backbone.get();
        List<String> classes = bb == null ? List.of() : bb.classNames();
        var input = bb == null ? null : bb.input();
        long gen = ++importGeneration;
        model.importing.set(true);
        model.status.set("Importing " + paths.size() + " item(s) ...");
        engine.execute(() -> {
            try {
                ImageImporter.Result r = new ImageImporter(new LabelSpace(classes), input).importPaths(paths,
                        (done, total, cur) -> {
                            if (done % 64 == 0 || done == total) {
                                ui.execute(() -> {
                                    model.progress.set(done / (double) total);
                                    model.status.set("Checking images: " + done + " / " + total);
                                });
                            }
                        }, () -> false);
                // the grid's items are made here, not on the FX thread: for 10,000 images, making them there was part of
                // a 73-ms frame
                List<ImageItem> found = new ArrayList<>(r.dataset().images().size());
                for (PersonalImage i : r.dataset().images()) {
                    found.add(ImageItem.of(i));
                }
                ui.execute(() -> {
                    // imports add up (deduplicated by path); the generation only tells which one reports last
                    Set<Path> have = new HashSet<>();
                    model.images.forEach(i -> have.add(i.path()));
                    List<ImageItem> add = new ArrayList<>();
                    for (ImageItem i : found) {
                        if (have.add(i.path())) {
                            add.add(i);
                        }
                    }
                    model.images.addAll(add);
                    detectLabelRegime();
                    for (SkippedFile s : r.skipped()) {
                        model.skipped.add(s.toString());
                    }
                    model.importing.set(gen != importGeneration);
                    model.progress.set(0);
                    model.status.set("Imported " + add.size() + " image(s)" + (r.skipped().isEmpty() ? ""
                            : "; skipped " + r.skipped().size() + " file(s) (see Data > Skipped)")
                            + (r.notes().isEmpty() ? "" : "; " + String.join("; ", r.notes())));
                });
            } catch (Exception | OutOfMemoryError e) {
                ui.execute(() -> {
                    model.importing.set(false);
                    error("Import failed: " + e.getMessage());
                });
            }
        });
    }

    /** Number of labelled training (non-test) images. */
    public long labelledTrainImages() {
        return model.images.stream().filter(i -> i.label() != null && !i.test()).count();
    }

    /** Uses every label when the data has some, none otherwise (the user can still pick a fraction). */
    void detectLabelRegime() {
        boolean any = labelledTrainImages() > 0;
        LabelRegime.Kind cur = model.labels.get().kind();
        if (!any && cur != LabelRegime.Kind.NONE) {
            model.labels.set(LabelRegime.NONE);
        } else if (any && cur == LabelRegime.Kind.NONE) {
            model.labels.set(LabelRegime.ALL);
        }
    }

    /** Sets the label of images (null = unlabelled). */
    public void relabel(List<ImageItem> items, String label) {
        String l = label == null || label.isBlank() ? null : label.strip();
        Backbone bb = model.backbone.get();
        if (l != null && bb != null) {
            LabelSpace ls = new LabelSpace(bb.classNames());
            l = ls.name(ls.resolve(l));
        }
        for (ImageItem i : items) {
            i.labelProperty().set(l);
        }
        model.status.set("Labelled " + items.size() + " image(s) " + (l == null ? "as unlabelled" : "'" + l + "'"));
    }

    /** Marks images as held-out test images (or back to training). */
    public void markTest(List<ImageItem> items, boolean test) {
        for (ImageItem i : items) {
            i.testProperty().set(test);
        }
        model.status.set((test ? "Marked " : "Unmarked ") + items.size() + " image(s) as test");
    }

    /** Removes images from the workspace (files stay on disk). */
    public void removeImages(List<ImageItem> items) {
        model.images.removeAll(items);
    }

    // ---------------------------------------------------------------- personalise

    /** Why personalisation cannot start now, or empty. */
    public Optional<String> cannotStart() {
        if (model.running.get()) {
            return Optional.of("Personalisation is already running");
        }
        if (model.backbone.get() == null) {
            return Optional.of("Open a backbone first");
        }
        if (model.exits.isEmpty()) {
            return Optional.of("Drag a head from the palette onto a stage (or press Auto) to place exits");
        }
        if (model.images.isEmpty()) {
            return Optional.of("Import some images: drop files or folders on the Data tab");
        }
        return Optional.empty();
    }

    /** Starts personalisation in the background. */
    public void startPersonalise() {
        Optional<String> why = cannotStart();
        if (why.isPresent()) {
            error(why.get());
            return;
        }
        Backbone bb = model.backbone.get();
        PersonalisationConfig cfg;
        LabelRegime regime;
        try {
            regime = model.labels.get();
            cfg = PersonalisationConfig.builder()
                    .setPlacements(model.exits.stream().map(ExitModel::placement).toList())
                    .optLabels(regime).optEpochs(model.epochs.get()).optLearningRate((float) model.learningRate.get())
                    .optPseudoLabelThreshold((float) model.pseudoThreshold.get())
                    .optTemperature((float) model.temperature.get()).optTeacher(model.teacher.get())
                    .optSeed(model.seed.get()).build();
        } catch (IllegalArgumentException e) {
            error("Settings: " + e.getMessage());
            return;
        }
        List<ExitPlacement> placements = cfg.placements().stream()
                .sorted(Comparator.comparingInt(p -> bb.stage(p.stage()).index())).toList();
        PersonalDataset ds = new PersonalDataset(null, model.images.stream().map(ImageItem::toPersonalImage).toList());
        double maxDrop = model.maxDrop.get();
        LatencyProfile stageProfile = model.stageProfile.get();
        cancel.set(false);
        epochThrottle.newRun();
        model.running.set(true);
        model.resultsFinal.set(false);
        model.liveStats.clear();
        model.progress.set(0);
        model.phase.set("Starting");
        model.status.set("Personalising " + placements.size() + " exits on " + ds.size() + " images ...");
        long started = System.nanoTime();
        engine.execute(() -> {
            PersonalisationJob.Listener l = new PersonalisationJob.Listener() {
                private volatile long lastUi;

                @Override
                public void onPhase(PersonalisationJob.Phase phase, String message) {
                    ui.execute(() -> {
                        model.phase.set(phase.display());
                        model.status.set(message);
                        model.progress.set(0);
                    });
                }

                @Override
                public void onProgress(PersonalisationJob.Phase phase, double fraction, double etaSeconds) {
                    long now = System.nanoTime();
                    if (now - lastUi < 50_000_000L && fraction < 1) {
                        return;
                    }
                    lastUi = now;
                    ui.execute(() -> {
                        model.progress.set(fraction);
                        model.eta.set(formatEta(etaSeconds));
                    });
                }

                @Override
                public void onEpoch(int epoch, int epochs, List<ExitStats> stats, EvalPredictions snapshot) {
                    // measured on this engine thread before the run when the backbone had just opened
                    LatencyProfile profile = stageProfile != null ? stageProfile
                            : measuredBackbone == bb ? measuredProfile : null;
                    Evaluation live = profile == null ? null : Evaluation.live(bb, placements,
                            snapshot.classes(), stats.stream().anyMatch(ExitStats::isRefitFinal), profile, snapshot,
                            Confidence.MAX_SOFTMAX);
                    if (live != null) {
                        live.curves();  // swept here, not on the FX thread
                    }
                    // latest epoch wins: while the FX thread has not drawn the previous one, replace it
                    epochThrottle.offer(() -> {
                        model.liveStats.setAll(stats);
                        model.phase.set("Training exits: epoch " + epoch + " / " + epochs);
                        if (live != null) {
                            resultKeys = placements.stream().map(ExitPlacement::key).toList();
                            model.evaluation.set(live);
                            recompute();
                        }
                    });
                }
            };
            try {
                PersonalisePipeline.Outcome o = PersonalisePipeline.run(bb, ds, cfg,
                        new PersonalisePipeline.Options(maxDrop, Confidence.MAX_SOFTMAX, false, null, 15), l,
                        cancel::get);
                o.evaluation().curves();
                ui.execute(() -> finish(o, started));
            } catch (CancellationException e) {
                ui.execute(() -> {
                    model.running.set(false);
                    model.phase.set("Cancelled");
                    model.progress.set(0);
                    model.status.set("Personalisation cancelled; earlier results are kept");
                    restoreEarlierEvaluation();
                });
            } catch (Exception e) {
                ui.execute(() -> {
                    model.running.set(false);
                    model.phase.set("Failed");
                    model.progress.set(0);
                    restoreEarlierEvaluation();
                    error("Personalisation failed: " + e.getMessage());
                });
            }
        });
    }

    private void restoreEarlierEvaluation() {
        if (outcome != null) {
            resultKeys = outcome.evaluation().exitNames();
            model.evaluation.set(outcome.evaluation());
            model.resultsFinal.set(true);
        } else {
            model.evaluation.set(null);
        }
        recompute();
    }

    private static String formatEta(double s) {
        if (Double.isNaN(s) || Double.isInfinite(s)) {
            return "";
        }
        long r = Math.round(s);
        return r < 60 ? r + " s left" : (r / 60) + " min " + (r % 60) + " s left";
    }

    private void finish(PersonalisePipeline.Outcome o, long started) {
        PersonalisePipeline.Outcome old = outcome;
        outcome = o;
        if (old != null) {
            engine.execute(old::close);
        }
        resultKeys = o.evaluation().exitNames();
        model.genericAccuracy.set(o.result().genericAccuracy());
        model.evalPaths.set(o.result().data().evalImages().stream().map(PersonalImage::path).toList());
        model.labelSpace.set(o.result().labelSpace().names());
        model.resultsFinal.set(true);
        model.evaluation.set(o.evaluation());
        // adopt the operating point's thresholds; exits it dropped get a threshold above 1
        CascadeResult c = o.choice().cascade();
        for (ExitModel e : model.exits) {
            int idx = resultKeys.indexOf(e.key());
            double t = ThresholdSweep.OFF;
            for (int p = 0; p < c.exits().length; p++) {
                if (c.exits()[p] == idx) {
                    t = c.thresholds()[p];
                }
            }
            e.thresholdProperty().set(t);
        }
        // one threshold shared by every exit: the global slider shows it
        if (c.exits().length == model.exits.size() && c.exits().length > 0
                && java.util.Arrays.stream(c.thresholds()).distinct().count() == 1) {
            model.globalThreshold.set(c.thresholds()[0]);
        }
        model.running.set(false);
        model.phase.set("Done");
        model.progress.set(1);
        model.eta.set("");
        recompute();
        keepRun(o);
        OperatingPoint.Validation v = o.selection().validation();
        OperatingPoint.Choice on = o.selection().chosenOn();
        String cv;
        if (on != null && o.result().validation().labelled()) {
            // the figure a person without test photos gets: the choice on their own labelled photos, out of fold
            cv = String.format(Locale.ROOT, "; validation estimate %.1f%% at %.2fx on %d labelled training images, "
                    + "out of fold", 100 * o.evaluation().validationLabelledCascade().evaluate(on.cascade().exits(),
                    on.cascade().thresholds()).accuracy(), on.speedup(), o.result().validation().scoredCount());
        } else {
            cv = v == null ? "" : String.format(Locale.ROOT, "; %.1f points below the best head on held-out halves",
                    v.dropPoints());
        }
        List<String> problems = PersonalisePipeline.problems(o);
        model.status.set((problems.isEmpty() ? "" : "Warning: " + String.join("; ", problems) + ". ")
                + (o.result().scoredOnLabels()
                ? String.format(Locale.ROOT, "Done in %.0f s (training %.1f s): personal %.1f%% "
                        + "(generic %.1f%%); operating point %.1f%% at %.2fx lower latency (%s%s)",
                (System.nanoTime() - started) / 1e9, o.result().timing().training(),
                100 * o.result().finalAccuracy(), 100 * o.result().genericAccuracy(), 100 * c.accuracy(),
                o.choice().speedup(), o.selection().search().display(), cv)
                : String.format(Locale.ROOT, "Done in %.0f s (training %.1f s), no labels: figures are agreement "
                        + "with the personalised final exit (the teacher), not accuracy; operating point %.1f%% "
                        + "agreement at %.2fx lower latency (%s%s)", (System.nanoTime() - started) / 1e9,
                o.result().timing().training(), 100 * c.accuracy(), o.choice().speedup(),
                o.selection().search().display(), cv)));
        save();
    }

    private Path lastRunDir() {
        return store == null ? null : store.dir().resolve("last-run");
    }

    /** Keeps the run in the workspace: a bundle of every exit and the predictions behind the curves. */
    private void keepRun(PersonalisePipeline.Outcome o) {
        Path dir = lastRunDir();
        Backbone bb = model.backbone.get();
        if (dir == null || bb == null) {
            return;
        }
        lastRunReady = false;
        org.persephonee.core.workspace.RunRecord rec = new org.persephonee.core.workspace.RunRecord();
        rec.backboneSha256 = bb.parametersSha256();
        rec.exits.addAll(o.evaluation().exitNames());
        var p = o.result().predictions();
        rec.exitProbabilities.addAll(p.exits());
        rec.finalProbabilities = p.finalExit();
        rec.truth = p.truth();
        rec.classes = p.classes();
        rec.refitFinal = o.result().finalHead() != null;
        rec.labels.addAll(o.result().labelSpace().names());
        o.result().data().evalImages().forEach(i -> rec.evalImages.add(i.path().toString()));
        rec.genericAccuracy = o.result().genericAccuracy();
        rec.latencySource = o.profile().source();
        rec.stageMs.putAll(o.profile().stageMs());
        rec.headMs.putAll(o.profile().headMs());
        rec.classifierMs = o.result().finalHead() != null ? o.profile().headMs(o.result().finalHead())
                : o.profile().classifierMs();
        engine.execute(() -> {
            try {
                Path written = BundleWriter.writeEveryExit(dir, bb, o.result(), o.evaluation(), o.choice());
                rec.save(written);
                ui.execute(() -> {
                    lastRunReady = true;
                    save();
                });
            } catch (Exception e) {
                ui.execute(() -> error("Could not keep the run in the workspace: " + e.getMessage()));
            }
        });
    }

    /** Brings back the last run kept in the workspace (curves, thresholds, export) without re-running. */
    private void restoreRun() {
        Path dir = lastRunDir();
        Backbone bb = model.backbone.get();
        if (dir == null || bb == null || !java.nio.file.Files.isRegularFile(dir.resolve(
                org.persephonee.core.workspace.RunRecord.FILE))) {
            return;
        }
        engine.execute(() -> {
            try {
                org.persephonee.core.workspace.RunRecord rec = org.persephonee.core.workspace.RunRecord.load(dir);
                if (!java.util.Objects.equals(rec.backboneSha256, bb.parametersSha256())) {
                    return;
                }
                List<ExitPlacement> placements = new ArrayList<>();
                for (String key : rec.exits) {
                    placements.add(ExitPlacement.parse(key));
                }
                Evaluation ev = Evaluation.live(bb, placements, rec.classes, rec.refitFinal, rec.profile(),
                        rec.predictions(), Confidence.MAX_SOFTMAX);
                ev.curves();
                ui.execute(() -> {
                    if (model.running.get() || model.backbone.get() != bb) {
                        return;
                    }
                    resultKeys = rec.exits;
                    model.genericAccuracy.set(rec.genericAccuracy);
                    model.evalPaths.set(rec.evalImages.stream().map(Path::of).toList());
                    model.labelSpace.set(List.copyOf(rec.labels));
                    model.resultsFinal.set(true);
                    model.evaluation.set(ev);
                    lastRunReady = true;
                    recompute();
                    StartupTimeline.mark("last run restored");
                    model.status.set("Restored the last run: " + rec.exits.size() + " exits, curves and thresholds");
                });
            } catch (Exception e) {
                ui.execute(() -> error("The last run in the workspace could not be restored: " + e.getMessage()));
            }
        });
    }

    /** Asks a running personalisation to stop (it stops within a second). */
    public void cancel() {
        cancel.set(true);
        model.status.set("Cancelling ...");
    }

    /** True when a finished run's heads are available for export. */
    public boolean hasResults() { return (outcome != null || lastRunReady) && model.resultsFinal.get(); }

    // ---------------------------------------------------------------- thresholds and curves

    /** Sets every exit's threshold. */
    public void setGlobalThreshold(double t) {
        model.globalThreshold.set(t);
        for (ExitModel e : model.exits) {
            e.thresholdProperty().set(t);
        }
    }

    /** Recomputes the current cascade from the exits' thresholds (cheap: stored predictions only). */
    public void recompute() {
        Evaluation ev = model.evaluation.get();
        if (ev == null) {
            model.current.set(null);
            model.curvesStale.set(false);
            return;
        }
        Set<String> placed = new HashSet<>();
        model.exits.forEach(e -> placed.add(e.key()));
        model.curvesStale.set(!placed.equals(new HashSet<>(ev.exitNames())));
        List<Integer> idx = new ArrayList<>();
        List<Double> th = new ArrayList<>();
        List<String> names = ev.exitNames();
        for (int j = 0; j < names.size(); j++) {
            for (ExitModel e : model.exits) {
                if (e.key().equals(names.get(j)) && e.threshold() <= 1.0) {
                    idx.add(j);
                    th.add(e.threshold());
                }
            }
        }
        model.current.set(ev.cascade().evaluate(idx.stream().mapToInt(Integer::intValue).toArray(),
                th.stream().mapToDouble(Double::doubleValue).toArray()));
    }

    // ---------------------------------------------------------------- export

    /**
     * Why the last run's result looks broken (below the generic backbone, near chance), one sentence each;
     * empty when nothing is wrong or no run is open. The lab asks before exporting such a result.
     */
    public List<String> exportWarnings() {
        PersonalisePipeline.Outcome o = outcome;
        return o == null ? List.of() : PersonalisePipeline.problems(o);
    }

    /** Writes a deployment bundle with the current thresholds, in the background. */
    public void export(Path dir) {
        if (!hasResults()) {
            error("Nothing to export yet: personalise first");
            return;
        }
        CascadeResult c = model.current.get();
        PersonalisePipeline.Outcome o = outcome;
        Backbone bb = model.backbone.get();
        Evaluation ev = model.evaluation.get();
        CascadeResult fin = ev.cascade().finalOnly();
        OperatingPoint.Choice choice = new OperatingPoint.Choice(c, fin.accuracy(), fin.meanMs(), fin.meanMacs(),
                model.maxDrop.get());
        List<String> stages = new ArrayList<>();
        for (int e : c.exits()) {
            String key = ev.exitNames().get(e);
            stages.add(ExitPlacement.stageOf(key));
        }
        Path kept = lastRunDir();
        model.status.set("Exporting to " + dir + " ...");
        engine.execute(() -> {
            try {
                Path written = o != null ? BundleWriter.write(dir, bb, o.result(), o.evaluation(), choice)
                        : BundleWriter.subset(kept, dir, choice, stages);
                ui.execute(() -> {
                    String msg = String.format(Locale.ROOT, "Exported %d exit(s): %.1f%% accuracy, %.2fx faster "
                                    + "than the personalised final exit (%.2f ms)%n%s", c.exits().length,
                            100 * c.accuracy(), choice.speedup(), c.meanMs(), written);
                    model.status.set("Exported bundle to " + written);
                    notifier.accept(msg);
                });
            } catch (Exception e) {
                ui.execute(() -> error("Export failed: " + e.getMessage()));
            }
        });
    }

    // ---------------------------------------------------------------- workspace

    private void clearResults() {
        model.evaluation.set(null);
        model.current.set(null);
        model.resultsFinal.set(false);
        model.liveStats.clear();
    }

    /** Saves the workspace in the background after a change the user made (latest state wins). */
    public void save() {
        sync.save();
    }

    WorkspaceState snapshot() {
        return sync.snapshot();
    }

    /**
     * Restores a workspace (or, when it has no backbone, opens {@code fallbackBackbone} and imports
     * {@code fallbackData}).
     */
    public void restore(WorkspaceState s, Path fallbackBackbone, Path fallbackData) {
        sync.restore(s, fallbackBackbone, fallbackData, null);
    }

    /** See {@link WorkspaceSync#restore(WorkspaceState, Path, Path, Path)}. */
    public void restore(WorkspaceState s, Path fallbackBackbone, Path fallbackData, Path extraData) {
        sync.restore(s, fallbackBackbone, fallbackData, extraData);
    }

    /** See {@link WorkspaceSync#restoreWith}. */
    public void restoreWith(WorkspaceState s, Path chosenBackbone, Path fallbackData) {
        sync.restoreWith(s, chosenBackbone, fallbackData);
    }

    /** Frees native memory (on exit). */
    public void shutdown() {
        cancel.set(true);
        if (outcome != null) {
            outcome.close();
        }
        Backbone bb = model.backbone.get();
        if (bb != null) {
            bb.close();
        }
    }
}
