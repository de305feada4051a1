package org.persephonee.views;

import org.persephonee.core.personalise.PersonalisationConfig;
import org.persephonee.core.personalise.PersonalisationResult;
import org.persephonee.core.personalise.ResumeState;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.eval.Confidence;
import org.persephonee.core.eval.Evaluation;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.export.BundleWriter;
import org.persephonee.core.pipeline.PersonalisePipeline;
import org.persephonee.core.review.ReviewQueue;
import org.persephonee.core.workspace.RunHistory;
import org.persephonee.core.workspace.RunRecord;
import org.persephonee.core.workspace.WorkspaceStore;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The last run kept in the workspace folder ({@code last-run}: a bundle with every exit plus {@link RunRecord}), so
 * its curves, thresholds and export come back after a restart without re-running. Called on the thread that owns the
 * model; writing and reading run on the engine thread.
 */
final class LastRunKeeper {
    private final LabModel model;
    private final LabTasks tasks;
    private final WorkspaceStore store;
    private final Consumer<String> error;
    private final Runnable save;
    private final Runnable recompute;
    /** The last run is written into the workspace (a bundle with every exit plus run.json). */
    private volatile boolean ready;
    /** Told about every run kept in the workspace's history. */
    private final java.util.List<Consumer<RunHistory.Entry>> kept = new java.util.ArrayList<>();
    /** Told about a run brought back from the workspace, after the model shows it. */
    private final java.util.List<Consumer<RunRecord>> restored = new java.util.ArrayList<>();

    LastRunKeeper(LabModel model, LabTasks tasks, WorkspaceStore store, Consumer<String> error, Runnable save,
                  Runnable recompute) {
        this.model = model;
        this.tasks = tasks;
        this.store = store;
        this.error = error;
        this.save = save;
        this.recompute = recompute;
    }

    /** Calls {@code then} with every run kept in the workspace's history ({@code runs/}), once it is written. */
    void onKept(Consumer<RunHistory.Entry> then) {
        kept.add(then);
    }

    /** Calls {@code then} with every run brought back from the workspace, after the model shows it. */
    void onRestored(Consumer<RunRecord> then) {
        restored.add(then);
    }

    /** True once the last run is written into the workspace (or was there when it was restored). */
    boolean ready() {
        return ready;
    }

    /** The workspace's feature memo (the frozen pass's rows of photos seen before), or null without a workspace. */
    Path featureMemo() {
        return store == null ? null : store.dir().resolve("features");
    }

    /** The kept run's folder when a run can carry on from it (kept and written), else null. */
    Path resumable() {
        return ready && dir() != null ? dir() : null;
    }

    /**
     * The config with the workspace's feature memo and, when the last kept run can be carried on from (its state
     * reads, same exits), that run to resume (its epochs: {@link PersonalisationConfig#DEFAULT_RESUME_EPOCHS} at
     * most).
     */
    static PersonalisationConfig withMemoAndResume(PersonalisationConfig cfg, Path memo, Path resumeFrom) {
        PersonalisationConfig.Builder b = cfg.toBuilder().optFeatureMemo(memo);
        if (resumeFrom != null && Files.isRegularFile(resumeFrom.resolve(ResumeState.FILE))) {
            try {
                ResumeState s = ResumeState.read(resumeFrom);
                List<String> keys = cfg.placements().stream().map(ExitPlacement::key).sorted().toList();
                if (s.exitKeys().stream().sorted().toList().equals(keys)) {
                    b.optResume(s).optEpochs(Math.min(cfg.epochs(), PersonalisationConfig.DEFAULT_RESUME_EPOCHS));
                }
            } catch (java.io.IOException e) {
                // a kept run that cannot be carried on from: this run starts from scratch
            }
        }
        return b.build();
    }

    /** The folder the last run is kept in, or null without a workspace. */
    Path dir() {
        return store == null ? null : store.dir().resolve("last-run");
    }

    /**
     * Keeps the run in the workspace: a bundle of every exit, the predictions behind the curves and its review queue;
     * and in the workspace's run history.
     */
    void keep(PersonalisePipeline.Outcome o, List<ReviewQueue.Candidate> queue) {
        Path dir = dir();
        Backbone bb = model.backbone().get();
        if (dir == null || bb == null) {
            return;
        }
        ready = false;
        RunRecord rec = new RunRecord();
        rec.backboneSha256 = bb.parametersSha256();
        rec.exits.addAll(o.evaluation().exitNames());
        var p = o.result().predictions();
        rec.exitProbabilities.addAll(p.exits());
        rec.finalProbabilities = p.finalExit();
        rec.truth = p.truth();
        var v = o.result().validation();
        rec.scoredOutOfFold = o.result().scoredOutOfFold();
        // without test photos the predictions above are these very ones: not kept twice
        if (v != null && v.labelled() && v.exits().size() == p.exits().size() && !rec.scoredOutOfFold) {
            rec.validationExitProbabilities = new ArrayList<>(v.exits());
            rec.validationFinalProbabilities = v.finalExit();
            rec.validationTruth = v.truth();
        }
        rec.finalEnsemble = new ArrayList<>(o.evaluation().finalEnsemble());
        rec.classes = p.classes();
        rec.refitFinal = o.result().finalHead() != null;
        rec.refitChoice = o.result().refitChoice();
        rec.labelSpaceLeftOut = o.result().labelSpaceLeftOut();
        rec.labels.addAll(o.result().labelSpace().names());
        o.result().data().evalImages().forEach(i -> rec.evalImages.add(i.path().toString()));
        rec.genericAccuracy = o.result().genericAccuracy();
        rec.latencySource = o.profile().source();
        rec.stageMs.putAll(o.profile().stageMs());
        rec.headMs.putAll(o.profile().headMs());
        rec.classifierMs = o.result().finalHead() != null ? o.profile().headMs(o.result().finalHead())
                : o.profile().classifierMs();
        rec.date = o.result().date();
        rec.config.putAll(o.result().config().describe());
        rec.labelsUsed = o.result().targets().labelled();
        rec.accuracy = o.choice().cascade().accuracy();
        rec.speedup = o.choice().speedup();
        rec.opExits = o.choice().cascade().exits().clone();
        rec.opThresholds = o.choice().cascade().thresholds().clone();
        rec.photos = o.result().data().trainSize();
        var t = o.result().timing();
        rec.seconds = t.decode() + t.training() + t.validation();
        rec.update = o.result().resumed() != null && o.result().resumed().warm();
        rec.backboneRanOn = o.result().cacheUse().computed();
        rec.evaluatedOn = o.result().evaluatedOn();
        for (ReviewQueue.Candidate cand : queue) {
            rec.review.add(new RunRecord.ReviewEntry(cand.image().path().toString(),
                    cand.guesses().stream().map(ReviewQueue.Guess::label).toList(),
                    cand.guesses().stream().map(ReviewQueue.Guess::confidence).toList(), cand.exit()));
        }
        tasks.engine().execute(() -> {
            try {
                Path written = BundleWriter.writeEveryExit(dir, bb, o.result(), o.evaluation(), o.choice());
                rec.save(written);
                int number = new RunHistory(store.dir()).add(rec);
                tasks.ui().execute(() -> {
                    ready = true;
                    save.run();
                    kept.forEach(k -> k.accept(new RunHistory.Entry(number, rec)));
                });
            } catch (Exception e) {
                tasks.ui().execute(() -> error.accept("Could not keep the run in the workspace: " + e.getMessage()));
            }
        });
    }

    /**
     * Brings back the last run kept in the workspace (curves, thresholds, export) without re-running, when it was
     * made on the open backbone.
     */
    void restore() {
        ready = true;
        Path dir = dir();
        Backbone bb = model.backbone().get();
        if (dir == null || bb == null || !Files.isRegularFile(dir.resolve(RunRecord.FILE))) {
            return;
        }
        tasks.engine().execute(() -> {
            try {
                RunRecord rec = RunRecord.load(dir);
                if (!Objects.equals(rec.backboneSha256, bb.parametersSha256())) {
                    return;
                }
                List<ExitPlacement> placements = new ArrayList<>();
                for (String key : rec.exits) {
                    placements.add(ExitPlacement.parse(key));
                }
                Evaluation ev = Evaluation.live(bb, placements, rec.classes, rec.refitFinal, rec.profile(),
                        rec.predictions(), rec.validationPredictions(), rec.finalEnsemble, Confidence.MAX_SOFTMAX);
                ev.curves();
                tasks.ui().execute(() -> {
                    if (model.running().get() || model.backbone().get() != bb) {
                        return;
                    }
                    model.genericAccuracy().set(rec.genericAccuracy);
                    model.scoredPhotosProperty().set(rec.scoredOutOfFold ? PersonalisationResult.OUT_OF_FOLD_PHOTOS
                            : rec.evaluatedOn != null && rec.evaluatedOn.contains("held-out")
                            ? PersonalisationResult.HELD_OUT_PHOTOS : PersonalisationResult.TEST_PHOTOS);
                    model.evalPaths().set(rec.evalImages.stream().map(Path::of).toList());
                    model.labelSpace().set(List.copyOf(rec.labels));
                    model.labelSpaceGuessed().set(rec.labelSpaceGuessed());
                    model.labelSpaceLeftOut().set(rec.labelSpaceLeftOut == null ? List.of()
                            : List.copyOf(rec.labelSpaceLeftOut));
                    model.refitChoice().set(rec.refitChoice);
                    model.resultsFinal().set(true);
                    model.evaluation().set(ev);
                    ready = true;
                    recompute.run();
                    restored.forEach(r -> r.accept(rec));
                    StartupTimeline.mark("last run restored");
                    model.status().set("Restored the last run: " + rec.exits.size() + " exits, curves and thresholds");
                });
            } catch (Exception e) {
                tasks.ui().execute(() -> error.accept("The last run in the workspace could not be restored: "
                        + e.getMessage()));
            }
        });
    }
}
