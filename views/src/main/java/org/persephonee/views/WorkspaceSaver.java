package org.persephonee.views;

import org.persephonee.core.workspace.WorkspaceState;
import org.persephonee.core.workspace.WorkspaceStore;

import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * Writes the lab's workspace on the io executor, off the FX thread. Saves coalesce: the newest state waiting is
 * the one written, and a user's change among coalesced saves makes the write the user's (the store treats
 * automatic saves more carefully, see {@link WorkspaceStore#save}).
 */
final class WorkspaceSaver {
    private record Request(WorkspaceState state, WorkspaceStore.Reason reason) { }

    private final WorkspaceStore store;
    private final Executor io;
    private final Executor ui;
    private final Consumer<String> status;
    private final Consumer<String> error;
    /** The newest state waiting for the io executor. */
    private final AtomicReference<Request> queued = new AtomicReference<>();

    /**
     * @param ui runs {@code status} and {@code error} on the thread that owns the model
     * @param status shows a sentence in the status bar (called through {@code ui})
     * @param error reports a failure to the user (called through {@code ui})
     */
    WorkspaceSaver(WorkspaceStore store, Executor io, Executor ui, Consumer<String> status, Consumer<String> error) {
        this.store = store;
        this.io = io;
        this.ui = ui;
        this.status = status;
        this.error = error;
    }

    /** Queues {@code state} to be written (FX thread). */
    void save(WorkspaceState state, WorkspaceStore.Reason why) {
        Request request = new Request(state, why);
        Request waiting = queued.getAndAccumulate(request, (q, n) -> q == null ? n
                : new Request(n.state(), q.reason() == WorkspaceStore.Reason.USER_EDIT ? q.reason() : n.reason()));
        if (waiting == null) {
            io.execute(this::writeQueued);
        }
    }

    private void writeQueued() {
        Request r = queued.getAndSet(null);
        if (r == null) {
            return;
        }
        try {
            WorkspaceStore.Saved saved = store.save(r.state(), r.reason());
            if (saved.outcome() == WorkspaceStore.Outcome.REFUSED) {
                ui.execute(() -> status.accept("Left " + store.file() + " as it was: it still holds "
                        + String.join(", ", saved.kept()) + ", which this session could not restore (your next "
                        + "change saves without it; the replaced version is kept as " + WorkspaceStore.PREVIOUS + ")"));
            }
        } catch (Exception e) {
            ui.execute(() -> error.accept("Could not save the workspace: " + e.getMessage()));
        }
    }
}
