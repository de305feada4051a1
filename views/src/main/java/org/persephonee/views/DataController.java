package org.persephonee.views;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.data.ImageImporter;
import org.persephonee.core.data.LabelSpace;
import org.persephonee.core.data.PersonalImage;
import org.persephonee.core.data.SkippedFile;
import org.persephonee.core.personalise.LabelRegime;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The person's images: imports files and folders in the background (adding up, deduplicated by path), labels them,
 * marks test images and removes them from the workspace. Called on the thread that owns the model.
 */
public final class DataController {
    private final LabModel model;
    private final LabTasks tasks;
    private final Consumer<String> error;
    /** Counts imports: only the last one started clears the importing flag. */
    private long importGeneration;

    DataController(LabModel model, LabTasks tasks, Consumer<String> error) {
        this.model = model;
        this.tasks = tasks;
        this.error = error;
        // an import or a restore in between: the old places no longer mean anything
        // (a relabel or a test mark only updates items: the places still hold)
        model.images().addListener((javafx.collections.ListChangeListener<ImageItem>) c -> {
            boolean moved = false;
            while (c.next()) {
                moved |= c.wasAdded() || c.wasRemoved() || c.wasPermutated();
            }
            if (moved && !undoing && !removed.isEmpty()) {
                forgetRemoval();
            }
        });
    }

    /** Imports dropped or chosen files and folders in the background. */
    public void importPaths(List<Path> paths) {
        Backbone bb = model.backbone().get();
        List<String> classes = bb == null ? List.of() : bb.classNames();
        var input = bb == null ? null : bb.input();
        long gen = ++importGeneration;
        model.importing().set(true);
        model.status().set("Importing " + paths.size() + " item(s) ...");
        tasks.engine().execute(() -> {
            try {
                ImageImporter.Result r = new ImageImporter(new LabelSpace(classes), input).importPaths(paths,
                        (done, total, cur) -> {
                            if (done % 64 == 0 || done == total) {
                                tasks.ui().execute(() -> {
                                    model.progress().set(done / (double) total);
                                    model.status().set("Checking images: " + done + " / " + total);
                                });
                            }
                        }, () -> false);
                // the grid's items are made here, not on the FX thread: for 10,000 images, making them there was part of
                // a 73-ms frame
                List<ImageItem> found = new ArrayList<>(r.dataset().images().size());
                for (PersonalImage i : r.dataset().images()) {
                    found.add(ImageItem.of(i));
                }
                tasks.ui().execute(() -> imported(r, found, gen));
            } catch (Exception | OutOfMemoryError e) {
                tasks.ui().execute(() -> {
                    model.importing().set(gen != importGeneration);
                    error.accept("Import failed: " + e.getMessage());
                });
            }
        });
    }

    private void imported(ImageImporter.Result r, List<ImageItem> found, long gen) {
        // imports add up (deduplicated by path); the generation only tells which one reports last
        Set<Path> have = new HashSet<>();
        model.images().forEach(i -> have.add(i.path()));
        List<ImageItem> add = new ArrayList<>();
        for (ImageItem i : found) {
            if (have.add(i.path())) {
                add.add(i);
            }
        }
        model.images().addAll(add);
        detectLabelRegime();
        for (SkippedFile s : r.skipped()) {
            model.skipped().add(s.toString());
        }
        model.importing().set(gen != importGeneration);
        model.progress().set(0);
        model.status().set("Imported " + add.size() + " image(s)" + (r.skipped().isEmpty() ? ""
                : "; skipped " + r.skipped().size() + " file(s) (see Data > Skipped)")
                + (r.notes().isEmpty() ? "" : "; " + String.join("; ", r.notes())));
    }

    /** Number of labelled training (non-test) images. */
    public long labelledTrainImages() {
        return model.images().stream().filter(i -> i.label() != null && !i.test()).count();
    }

    /** Uses every label when the data has some, none otherwise (the user can still pick a fraction). */
    void detectLabelRegime() {
        boolean any = labelledTrainImages() > 0;
        LabelRegime.Kind cur = model.labels().get().kind();
        if (!any && cur != LabelRegime.Kind.NONE) {
            model.labels().set(LabelRegime.NONE);
        } else if (any && cur == LabelRegime.Kind.NONE) {
            model.labels().set(LabelRegime.ALL);
        }
    }

    /** Sets the label of images (null = unlabelled). */
    public void relabel(List<ImageItem> items, String label) {
        String l = label == null || label.isBlank() ? null : label.strip();
        Backbone bb = model.backbone().get();
        if (l != null && bb != null) {
            LabelSpace ls = new LabelSpace(bb.classNames());
            l = ls.name(ls.resolve(l));
        }
        for (ImageItem i : items) {
            i.labelProperty().set(l);
            // a label set here (or cleared) is the person's own choice, not the review queue's
            i.reviewedProperty().set(false);
        }
        detectLabelRegime();
        model.status().set("Labelled " + items.size() + " image(s) " + (l == null ? "as unlabelled" : "'" + l + "'"));
    }

    /** Marks images as held-out test images (or back to training). */
    public void markTest(List<ImageItem> items, boolean test) {
        for (ImageItem i : items) {
            i.testProperty().set(test);
        }
        model.status().set((test ? "Marked " : "Unmarked ") + items.size() + " image(s) as test");
    }

    /**
     * Labels one photo from the review queue: its label counts as chosen for review, which the run records (choices
     * score every photo whenever some are unlabelled, never the reviewed ones alone).
     */
    public void review(ImageItem item, String label) {
        relabel(List.of(item), label);
        item.reviewedProperty().set(item.label() != null);
    }

    /**
     * Writes the labels of the training images as {@code labels.csv} in the background (atomically; paths relative
     * to the file's folder where they lie under it), for an import elsewhere or a later session.
     */
    public void writeLabels(Path csv) {
        java.util.Map<Path, String> labels = new java.util.LinkedHashMap<>();
        for (ImageItem i : model.images()) {
            if (!i.test() && i.label() != null) {
                labels.put(i.path(), i.label());
            }
        }
        tasks.io().execute(() -> {
            try {
                int n = org.persephonee.core.data.LabelsCsv.write(csv, labels);
                tasks.ui().execute(() -> model.status().set("Wrote " + n + " label(s) to " + csv));
            } catch (java.io.IOException | RuntimeException e) {
                tasks.ui().execute(() -> error.accept("Could not write " + csv + ": " + e.getMessage()));
            }
        });
    }

    /** The images the last removal took out, with where each stood; empty when there is nothing to undo. */
    private List<ImageItem> removed = List.of();
    private int[] removedAt = new int[0];
    private final javafx.beans.property.BooleanProperty canUndoRemove =
            new javafx.beans.property.SimpleBooleanProperty(false);
    /** True while this controller changes the image list itself (an undo must not forget itself). */
    private boolean undoing;

    /** Whether {@link #undoRemove()} has images to bring back. */
    public javafx.beans.property.ReadOnlyBooleanProperty canUndoRemove() { return canUndoRemove; }

    /**
     * Removes images from the workspace (files stay on disk); {@link #undoRemove()} brings them back where they were,
     * with their labels and test marks, until the image list changes otherwise.
     */
    public void removeImages(List<ImageItem> items) {
        Set<ImageItem> gone = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        gone.addAll(items);
        List<ImageItem> took = new ArrayList<>();
        List<Integer> at = new ArrayList<>();
        for (int i = 0; i < model.images().size(); i++) {
            if (gone.contains(model.images().get(i))) {
                took.add(model.images().get(i));
                at.add(i);
            }
        }
        if (took.isEmpty()) {
            return;
        }
        undoing = true;
        try {
            model.images().removeAll(gone);
        } finally {
            undoing = false;
        }
        removed = took;
        removedAt = at.stream().mapToInt(Integer::intValue).toArray();
        canUndoRemove.set(true);
        model.status().set("Removed " + took.size() + " image(s) from the lab; the files stay on disk (Edit > Undo "
                + "remove brings them back)");
    }

    /** Puts the images of the last removal back where they stood, with their labels and test marks. */
    public void undoRemove() {
        if (removed.isEmpty()) {
            return;
        }
        undoing = true;
        try {
            // in the order they stood: each goes back to its old place, consecutive ones in one change
            int k = 0;
            while (k < removed.size()) {
                int end = k + 1;
                while (end < removed.size() && removedAt[end] == removedAt[end - 1] + 1) {
                    end++;
                }
                int at = Math.min(removedAt[k], model.images().size());
                model.images().addAll(at, removed.subList(k, end));
                k = end;
            }
        } finally {
            undoing = false;
        }
        model.status().set("Brought back " + removed.size() + " image(s)");
        forgetRemoval();
    }

    private void forgetRemoval() {
        removed = List.of();
        removedAt = new int[0];
        canUndoRemove.set(false);
    }
}
