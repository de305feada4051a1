package org.persephonee.views;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.backbone.Stage;
import org.persephonee.core.eval.LatencyProfile;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;
import org.persephonee.core.exits.HeadType;

import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The backbone and its exits: opens a backbone in the background, shows it, then times its stages once the lab
 * is settled; places, removes and proposes exits. Called on the thread that owns the model.
 */
public final class ExitsController {
    private final LabModel model;
    private final LabTasks tasks;
    private final Consumer<String> error;
    private final Runnable save;
    /** Clears the results of the previous backbone. */
    private final Runnable clearResults;
    /** Runs after a backbone the user opened is shown (the workspace's kept exits, then a save). */
    private final Runnable afterUserOpen;

    /**
     * The last stage profile measured, and its backbone: written and read on the engine thread (a run started
     * before the profile reached the model reads it there).
     */
    private LatencyProfile measuredProfile;
    private Backbone measuredBackbone;
    /**
     * The backbone last shown (written on the FX thread before an earlier one's close is queued): a timing queued on
     * the engine thread for a backbone that is no longer shown is skipped, so it never runs on a closed one.
     */
    private volatile Backbone shownBackbone;
    /** Runs the stage timing when the lab is ready for it (at start: once every pane is attached). */
    private Consumer<Runnable> whenSettled = Runnable::run;
    private static final String WAIT_FOR_RUN = "Wait for personalisation to finish (or cancel it) before changing exits";

    ExitsController(LabModel model, LabTasks tasks, Consumer<String> error, Runnable save, Runnable clearResults,
                    Runnable afterUserOpen) {
        this.model = model;
        this.tasks = tasks;
        this.error = error;
        this.save = save;
        this.clearResults = clearResults;
        this.afterUserOpen = afterUserOpen;
    }

    /** Opens a backbone folder in the background, shows it, then measures its stages. */
    public void openBackbone(Path dir) {
        openBackbone(dir, afterUserOpen, null);
    }

    /**
     * Where the stage timing waits for the lab to settle: at start, timing the stages (a second of one core) while the
     * panes were attached and the last run restored made the FX thread wait for a CPU (stalls of 120-170 ms).
     */
    void measureWhen(Consumer<Runnable> gate) {
        this.whenSettled = gate;
    }

    /** The lab closes: stage timings still queued are skipped. */
    void shutdown() {
        shownBackbone = null;
    }

    /** {@code then} runs once the backbone is open and shown; {@code failed} after a failure. */
    void openBackbone(Path dir, Runnable then, Runnable failed) {
        if (model.running().get()) {
            error.accept("Cannot open another backbone while personalisation runs: cancel it first");
            return;
        }
        model.status().set("Opening backbone " + dir + " (the first start also unpacks the native engine) ...");
        model.phase().set("Loading backbone");
        model.progress().set(-1);
        tasks.engine().execute(() -> {
            try {
                Backbone bb = BackboneIO.load(dir);
                StartupTimeline.mark("backbone loaded");
                tasks.ui().execute(() -> shown(bb, then));
            } catch (Exception e) {
                tasks.ui().execute(() -> {
                    model.phase().set("");
                    model.progress().set(0);
                    error.accept("Could not open backbone: " + e.getMessage());
                    if (failed != null) {
                        failed.run();
                    }
                });
            }
        });
    }

    private void shown(Backbone bb, Runnable then) {
        model.phase().set("");
        model.progress().set(0);
        Backbone old = model.backbone().get();
        clearResults.run();
        model.stageProfile().set(null);
        model.backbone().set(bb);
        shownBackbone = bb;
        StartupTimeline.mark("backbone shown");
        Set<String> names = new HashSet<>();
        bb.stages().forEach(s -> names.add(s.name()));
        model.exits().removeIf(e -> !names.contains(e.stage()) || isLast(bb, e.stage()));
        String opened = "Opened " + bb.name() + ": " + bb.stages().size() + " stages";
        model.status().set(opened + "; timing its stages ...");
        if (old != null && old != bb) {
            tasks.engine().execute(old::close);
        }
        if (then != null) {
            then.run();
        }
        String timing = model.status().get();
        whenSettled.accept(() -> tasks.engine().execute(() -> {
            if (shownBackbone != bb) {
                return;
            }
            try {
                LatencyProfile profile = profileFor(bb, null);
                tasks.ui().execute(() -> {
                    if (model.backbone().get() != bb) {
                        return;
                    }
                    model.stageProfile().set(profile);
                    StartupTimeline.mark("stages timed");
                    if (timing.equals(model.status().get())) {
                        model.status().set(opened + String.format(Locale.ROOT, ", %.1f ms per image here",
                                profile.backboneMs()));
                    }
                });
            } catch (RuntimeException e) {
                tasks.ui().execute(() -> error.accept("Could not time the stages of " + bb.name() + ": "
                        + e.getMessage()));
            }
        }));
    }

    /**
     * The stage profile of {@code bb}: the model's, or the one measured on the engine thread, measured now when there is
     * none yet (a run started before the timing). Called on the engine thread while {@code bb} is open.
     */
    LatencyProfile profileFor(Backbone bb, LatencyProfile modelProfile) {
        if (modelProfile != null) {
            return modelProfile;
        }
        if (measuredBackbone != bb || measuredProfile == null) {
            measuredProfile = LatencyProfile.measureStages(bb, 15);
            measuredBackbone = bb;
        }
        return measuredProfile;
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
        Backbone bb = model.backbone().get();
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
        if (model.exits().stream().anyMatch(e -> e.stage().equals(stage))) {
            return Optional.of(stage + " already has an exit: select it to change its head");
        }
        if (model.running().get()) {
            return Optional.of(WAIT_FOR_RUN);
        }
        ExitModel e = new ExitModel(stage, HeadSpec.of(type), model.globalThreshold().get());
        e.headProperty().addListener((o, a, b) -> save.run());
        e.thresholdProperty().addListener((o, a, b) -> save.run());
        model.exits().add(e);
        model.exits().sort(Comparator.comparingInt(x -> bb.stage(x.stage()).index()));
        model.selectedExit().set(e);
        return Optional.empty();
    }

    /** Removes an exit. */
    public void removeExit(ExitModel e) {
        if (model.running().get()) {
            error.accept(WAIT_FOR_RUN);
            return;
        }
        model.exits().remove(e);
        if (model.selectedExit().get() == e) {
            model.selectedExit().set(null);
        }
    }

    /** Removes every exit and says so (the status line described the run whose exits these were). */
    public void clearExits() {
        if (model.running().get()) {
            error.accept(WAIT_FOR_RUN);
            return;
        }
        int n = model.exits().size();
        List.copyOf(model.exits()).forEach(this::removeExit);
        model.status().set("Removed " + n + " exit" + (n == 1 ? "" : "s") + (model.evaluation().get() == null ? ""
                : "; the curves are the last run's (marked stale) until you personalise again"));
    }

    /** Proposes exits: a grid head after every stage but the last. */
    public void autoPlace() {
        Backbone bb = model.backbone().get();
        if (bb == null || model.running().get()) {
            return;
        }
        for (ExitPlacement p : ExitPlacement.auto(bb)) {
            if (model.exits().stream().noneMatch(e -> e.stage().equals(p.stage()))) {
                addExit(p.stage(), p.head().type());
            }
        }
        model.status().set("Proposed " + model.exits().size() + " exits; personalise to see which pay off");
    }
}
