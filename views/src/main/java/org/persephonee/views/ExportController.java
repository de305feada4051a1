package org.persephonee.views;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.eval.CascadeResult;
import org.persephonee.core.eval.Evaluation;
import org.persephonee.core.eval.OperatingPoint;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.deploy.TorchScriptExport;
import org.persephonee.core.export.BundleWriter;
import org.persephonee.core.pipeline.PersonalisePipeline;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * Export: writes a deployment bundle of the exits and thresholds shown now, from this session's run or from the run
 * kept in the workspace, through the same writer as the CLI. Called on the thread that owns the model.
 */
public final class ExportController {
    private final LabModel model;
    private final LabTasks tasks;
    private final RunController run;
    private final LastRunKeeper kept;
    private final Consumer<String> error;
    private Consumer<String> notifier = s -> { };

    ExportController(LabModel model, LabTasks tasks, RunController run, LastRunKeeper kept, Consumer<String> error) {
        this.model = model;
        this.tasks = tasks;
        this.run = run;
        this.kept = kept;
        this.error = error;
    }

    /** Receives short success messages (the view shows them as notifications). */
    public void setNotifier(Consumer<String> n) {
        this.notifier = n;
    }

    /**
     * Why the last run's result looks broken (below the generic backbone, near chance), one sentence each;
     * empty when nothing is wrong or no run is open. The lab asks before exporting such a result.
     */
    public List<String> warnings() {
        PersonalisePipeline.Outcome o = run.outcome();
        return o == null ? List.of() : PersonalisePipeline.problems(o);
    }

    /** Writes a deployment bundle with the current thresholds, in the background. */
    public void export(Path dir) {
        export(dir, false);
    }

    /**
     * Writes the current thresholds as a TorchScript / PyTorch Mobile early-exit module ({@code model.pt},
     * {@code model.ptl}, {@code deploy.json}) in the background, after checking it against this runtime on the
     * person's test photos (or a sample of the others); the toast gives the parity result.
     */
    public void exportTorchScript(Path dir) {
        export(dir, true);
    }

    private void export(Path dir, boolean torchScript) {
        if (!run.hasResults()) {
            error.accept("Nothing to export yet: personalise first");
            return;
        }
        CascadeResult c = model.current().get();
        PersonalisePipeline.Outcome o = run.outcome();
        Backbone bb = model.backbone().get();
        Evaluation ev = model.evaluation().get();
        CascadeResult fin = ev.cascade().finalOnly();
        OperatingPoint.Choice choice = new OperatingPoint.Choice(c, fin.accuracy(), fin.meanMs(), fin.meanMacs(),
                model.maxDrop().get());
        List<String> stages = new ArrayList<>();
        for (int e : c.exits()) {
            stages.add(ExitPlacement.stageOf(ev.exitNames().get(e)));
        }
        Path keptDir = kept.dir();
        List<Path> photos = parityPhotos();
        model.status().set((torchScript ? "Exporting for PyTorch Mobile to " : "Exporting to ") + dir + " ...");
        tasks.engine().execute(() -> {
            Path staging = null;
            try {
                Path target = dir;
                if (torchScript) {
                    staging = java.nio.file.Files.createTempDirectory("persephonee-export").resolve("bundle");
                    target = staging;
                }
                Path written = o != null ? BundleWriter.write(target, bb, o.result(), o.evaluation(), choice)
                        : BundleWriter.subset(keptDir, target, choice, stages);
                if (torchScript) {
                    TorchScriptExport.Result r = TorchScriptExport.export(written, dir, photos, 42,
                            TorchScriptExport.defaultScript(), Path.of("/usr/bin/python3"), System.err);
                    tasks.ui().execute(() -> {
                        if (r.problem() != null) {
                            error.accept("TorchScript export refused: " + r.describe());
                            return;
                        }
                        model.status().set("Exported model.pt and model.ptl to " + dir);
                        notifier.accept(String.format(Locale.ROOT, "Exported for PyTorch Mobile: %d exit(s), %.1f%% "
                                + "accuracy, %.2fx faster%n%s%n%s", c.exits().length, 100 * c.accuracy(),
                                choice.speedup(), r.brief(), dir));
                    });
                    return;
                }
                tasks.ui().execute(() -> {
                    String msg = String.format(Locale.ROOT, "Exported %d exit(s): %.1f%% accuracy, %.2fx faster "
                                    + "than the personalised final exit (%.2f ms)%n%s", c.exits().length,
                            100 * c.accuracy(), choice.speedup(), c.meanMs(), written);
                    model.status().set("Exported bundle to " + written);
                    notifier.accept(msg);
                });
            } catch (Exception e) {
                tasks.ui().execute(() -> error.accept("Export failed: " + e.getMessage()));
            } finally {
                if (staging != null) {
                    try {
                        org.persephonee.core.util.FileTrees.delete(staging.getParent());
                    } catch (java.io.IOException e) {
                        // a temporary folder: the system's cleaner takes what is left
                    }
                }
            }
        });
    }

    /** The photos a TorchScript export is compared on: the test photos, else up to 200 of the others. */
    private List<Path> parityPhotos() {
        List<Path> test = model.images().stream().filter(ImageItem::test).map(ImageItem::path).toList();
        List<Path> all = test.isEmpty() ? model.images().stream().map(ImageItem::path).toList() : test;
        return all.subList(0, Math.min(all.size(), 400));
    }

}
