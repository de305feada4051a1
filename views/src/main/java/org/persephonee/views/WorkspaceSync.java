package org.persephonee.views;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.exits.HeadSpec;
import org.persephonee.core.exits.HeadType;
import org.persephonee.core.workspace.WorkspaceState;
import org.persephonee.core.workspace.WorkspaceStore;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The lab's workspace, kept in step with the model: a snapshot saved in the background after each change, and a
 * saved workspace applied at start (settings, images, the backbone, its exits and the last run), keeping aside
 * what a missing backbone cannot take. Runs on the FX thread; what it needs of the rest of the lab goes through
 * {@link Host}.
 */
final class WorkspaceSync {
    /** What the workspace asks of the lab while it is applied. */
    interface Host {
        void openBackbone(Path dir, Runnable then, Runnable failed);

        Optional<String> addExit(String stage, HeadType type);

        void importPaths(List<Path> paths);

        /** Brings back the last run kept in the workspace. */
        void restoreLastRun();

        /** True once the last run is written into the workspace. */
        boolean lastRunReady();

        void error(String message);
    }

    private final LabModel model;
    private final WorkspaceSettings settings;
    /** Writes the workspace in the background (null without a store). */
    private final WorkspaceSaver saver;
    private final Host host;

    /**
     * False until {@link #restore(WorkspaceState, Path, Path, Path)} has applied the workspace (its exits placed
     * on the opened backbone, or kept aside when that backbone cannot be opened): nothing is saved before, since an earlier save
     * would know less than the file on disk.
     */
    private boolean restored;
    /** True while restored settings, images or exits are being applied: one save after, not one per change. */
    private boolean applying;
    /**
     * The part of the restored workspace that could not be applied because its backbone could not be
     * opened (backbone folder, exits, last run): saves keep it as it was, and the next backbone the user
     * opens takes it.
     */
    private WorkspaceState unapplied;

    WorkspaceSync(LabModel model, WorkspaceSettings settings, WorkspaceSaver saver, Host host) {
        this.model = model;
        this.settings = settings;
        this.saver = saver;
        this.host = host;
    }

    /** Saves the workspace in the background after a change the user made (latest state wins). */
    void save() {
        save(WorkspaceStore.Reason.USER_EDIT);
    }

    private void save(WorkspaceStore.Reason why) {
        if (saver == null || !restored || applying) {
            return;
        }
        saver.save(snapshot(), why);
    }

    WorkspaceState snapshot() {
        WorkspaceState s = new WorkspaceState();
        Backbone bb = model.backbone().get();
        s.backbone = bb == null || bb.directory() == null ? null : bb.directory().toAbsolutePath().toString();
        for (ExitModel e : model.exits()) {
            s.exits.add(new WorkspaceState.Exit(e.stage(), e.head().id(), e.threshold()));
        }
        for (ImageItem i : model.images()) {
            WorkspaceState.Image saved = new WorkspaceState.Image(i.path().toString(), i.label(), i.test());
            saved.reviewed = i.reviewed() && i.label() != null;
            s.images.add(saved);
        }
        s.globalThreshold = model.globalThreshold().get();
        s.lastRun = host.lastRunReady() ? "last-run" : null;
        WorkspaceState u = unapplied;
        if (u != null) {
            // the workspace's backbone could not be opened: keep what only it could bring back
            s.backbone = u.backbone;
            s.exits.clear();
            u.exits.forEach(e -> s.exits.add(new WorkspaceState.Exit(e.stage, e.head, e.threshold)));
            s.lastRun = u.lastRun;
        }
        settings.save(s.settings);
        return s;
    }

    /**
     * Restores a workspace, then imports {@code extraData} (a folder given on the command line) once the
     * backbone is open; with extra data the sample persona is not imported.
     *
     * <p>Nothing is saved until the workspace is applied; the save that follows is automatic, so it
     * cannot replace the file with a state that knows less (see {@link WorkspaceStore#save}). When the
     * workspace's backbone folder is missing or cannot be opened the lab says so, opens no other backbone
     * and keeps the backbone, exits and last run in the file; the next backbone the user opens takes them.
     */
    void restore(WorkspaceState s, Path fallbackBackbone, Path fallbackData, Path extraData) {
        if (s.backbone != null) {
            restore(s, Path.of(s.backbone), false, null, extraData);
        } else {
            restore(s, fallbackBackbone, false, fallbackData, extraData);
        }
    }

    /**
     * Restores a workspace onto {@code chosenBackbone}, a backbone the user named at start (on the command
     * line), instead of the workspace's own. The user's choice, so the workspace is saved with it: its
     * exits that fit are placed, its last run comes back when it was made on this backbone, and
     * {@code fallbackData} is imported when it has no images.
     */
    void restoreWith(WorkspaceState s, Path chosenBackbone, Path fallbackData) {
        restore(s, chosenBackbone, true, fallbackData, null);
    }

    private void restore(WorkspaceState s, Path bbDir, boolean chosen, Path dataIfNoImages, Path extraData) {
        restored = false;
        unapplied = null;
        applying = true;
        try {
            model.globalThreshold().set(s.globalThreshold);
            settings.restore(s.settings, bad -> host.error("Workspace setting " + bad + " ignored"));
            // one change for the whole list: every listener (counts, the grid, the detected label regime) runs once,
            // not once per image
            List<ImageItem> restoredImages = new ArrayList<>();
            for (WorkspaceState.Image i : s.images) {
                ImageItem item = new ImageItem(Path.of(i.path), i.label, i.test);
                item.reviewedProperty().set(i.reviewed && i.label != null);
                restoredImages.add(item);
            }
            model.images().addAll(restoredImages);
            StartupTimeline.mark("workspace images listed");
        } finally {
            applying = false;
        }
        if (bbDir == null) {
            // no backbone to open: exits and a last run (if any) stay in the file for the next backbone
            unapplied = s.exits.isEmpty() && s.lastRun == null ? null : s;
            restored(WorkspaceStore.Reason.AUTOMATIC);
            return;
        }
        if (!java.nio.file.Files.isDirectory(bbDir)) {
            keepUnapplied(s, bbDir, "is missing");
            return;
        }
        host.openBackbone(bbDir, () -> {
            placeExits(s.exits);
            if (extraData != null) {
                host.importPaths(List.of(extraData));
            } else if (dataIfNoImages != null && model.images().isEmpty()) {
                host.importPaths(List.of(dataIfNoImages));
            }
            if (s.lastRun != null) {
                host.restoreLastRun();
            }
            restored(chosen ? WorkspaceStore.Reason.USER_EDIT : WorkspaceStore.Reason.AUTOMATIC);
        }, () -> keepUnapplied(s, bbDir, "could not be opened"));
    }

    /** The restore is over: saves are allowed, starting with this one. */
    private void restored(WorkspaceStore.Reason why) {
        restored = true;
        save(why);
    }

    /**
     * The backbone to restore onto cannot be opened: tell the user and keep the workspace's backbone, exits
     * and last run as they are.
     */
    private void keepUnapplied(WorkspaceState s, Path bbDir, String what) {
        unapplied = s;
        String kept = (s.exits.isEmpty() ? "" : ", its " + s.exits.size() + " exit(s)")
                + (s.lastRun == null ? "" : " and its last run");
        if (s.backbone != null && Path.of(s.backbone).equals(bbDir)) {
            host.error("The workspace's backbone folder " + bbDir + " " + what + ". The workspace still remembers it"
                    + kept + ": open that backbone again (or another one) to carry on with them.");
        } else if (s.backbone != null) {
            host.error("The backbone folder " + bbDir + " " + what + ". The workspace still remembers its own backbone "
                    + s.backbone + kept + ".");
        }
        restored(WorkspaceStore.Reason.AUTOMATIC);
    }

    /** A backbone the user opened takes the exits and last run of a workspace whose backbone was missing. */
    void placeUnapplied() {
        WorkspaceState u = unapplied;
        unapplied = null;
        if (u == null) {
            return;
        }
        placeExits(u.exits);
        if (u.lastRun != null) {
            host.restoreLastRun();
        }
    }

    /** Places a workspace's exits on the open backbone (no save per exit); says which ones it cannot take. */
    private void placeExits(List<WorkspaceState.Exit> exits) {
        applying = true;
        try {
            for (WorkspaceState.Exit e : exits) {
                try {
                    HeadSpec h = HeadSpec.parse(e.head);
                    Optional<String> refused = host.addExit(e.stage, h.type());
                    if (refused.isEmpty()) {
                        model.exits().stream().filter(x -> x.stage().equals(e.stage)).findFirst().ifPresent(x -> {
                            x.headProperty().set(h);
                            x.thresholdProperty().set(e.threshold);
                        });
                    } else {
                        host.error("Workspace exit " + e.stage + ":" + e.head + " not placed (" + refused.get() + ")");
                    }
                } catch (IllegalArgumentException | NullPointerException ex) {
                    host.error("Workspace exit " + e.stage + ":" + e.head + " ignored (" + ex.getMessage() + ")");
                }
            }
            model.selectedExit().set(null);
        } finally {
            applying = false;
        }
    }
}
