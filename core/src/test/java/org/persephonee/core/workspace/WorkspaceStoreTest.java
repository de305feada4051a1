package org.persephonee.core.workspace;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.workspace.WorkspaceStore.Outcome;
import org.persephonee.core.workspace.WorkspaceStore.Reason;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WorkspaceStoreTest {
    @TempDir
    Path dir;

    /** A workspace that knows a backbone, two exits, three images (two labelled) and a last run. */
    static WorkspaceState full() {
        WorkspaceState s = new WorkspaceState();
        s.backbone = "/models/resnet9";
        s.exits.add(new WorkspaceState.Exit("block3", "conv32x1", 0.8));
        s.exits.add(new WorkspaceState.Exit("block6", "linear", 0.9));
        s.images.add(new WorkspaceState.Image("/data/a.png", "Coat", false));
        s.images.add(new WorkspaceState.Image("/data/b.png", "Bag", true));
        s.images.add(new WorkspaceState.Image("/data/c.png", null, false));
        s.settings.put("epochs", "10");
        s.lastRun = "last-run";
        return s;
    }

    static WorkspaceState full(Consumer<WorkspaceState> change) {
        WorkspaceState s = full();
        change.accept(s);
        return s;
    }

    @Test
    void anAutomaticSaveThatForgetsTheBackboneExitsAndLastRunIsRefusedAndTheFileIsLeftAsItWas() throws IOException {
        WorkspaceStore store = new WorkspaceStore(dir);
        assertEquals(Outcome.WRITTEN, store.save(full(), Reason.USER_EDIT).outcome());
        byte[] before = Files.readAllBytes(store.file());

        // what the lab used to write when the backbone folder was missing at start
        WorkspaceState less = full(s -> {
            s.backbone = null;
            s.exits.clear();
            s.lastRun = null;
        });
        WorkspaceStore.Saved r = store.save(less, Reason.AUTOMATIC);
        assertEquals(Outcome.REFUSED, r.outcome());
        assertEquals(List.of("the backbone /models/resnet9", "the exit block3:conv32x1", "the exit block6:linear",
                "the last run (last-run)"), r.kept());
        assertArrayEquals(before, Files.readAllBytes(store.file()));
        WorkspaceState loaded = store.load().state();
        assertEquals("/models/resnet9", loaded.backbone);
        assertEquals(2, loaded.exits.size());
        assertEquals("last-run", loaded.lastRun);
    }

    @Test
    void eachKindOfForgettingIsRefusedWhenAutomatic() throws IOException {
        List<Consumer<WorkspaceState>> losses = List.of(
                s -> s.backbone = null,
                s -> s.backbone = "/models/other",
                s -> s.exits.remove(1),
                s -> s.exits.get(0).head = "grid",
                s -> s.lastRun = null,
                s -> s.images.remove(2),
                s -> s.images.get(0).label = null);
        for (int i = 0; i < losses.size(); i++) {
            WorkspaceStore store = new WorkspaceStore(dir.resolve("case" + i));
            store.save(full(), Reason.USER_EDIT);
            WorkspaceStore.Saved r = store.save(full(losses.get(i)), Reason.AUTOMATIC);
            assertEquals(Outcome.REFUSED, r.outcome(), "case " + i);
            assertEquals(1, r.kept().size(), "case " + i + ": " + r.kept());
            assertEquals(Outcome.WRITTEN, store.save(full(losses.get(i)), Reason.USER_EDIT).outcome(),
                    "the user may forget it (case " + i + ")");
        }
    }

    @Test
    void anAutomaticSaveThatKnowsAsMuchOrMoreIsWritten() throws IOException {
        WorkspaceStore store = new WorkspaceStore(dir);
        // nothing on disk yet: nothing to forget
        assertEquals(Outcome.WRITTEN, store.save(full(), Reason.AUTOMATIC).outcome());
        WorkspaceState more = full(s -> {
            s.exits.get(0).threshold = 0.5;
            s.globalThreshold = 0.7;
            s.settings.put("epochs", "20");
            s.exits.add(new WorkspaceState.Exit("block7", "mlp", 0.9));
            s.images.add(new WorkspaceState.Image("/data/d.png", "Coat", false));
            s.images.get(2).label = "Bag";
            s.backbone = "/models/./resnet9/";  // the same folder, spelled differently
            s.images.get(0).path = "/data//a.png";
            s.exits.get(0).head = "conv";  // the same head, spelled differently
        });
        assertEquals(Outcome.WRITTEN, store.save(more, Reason.AUTOMATIC).outcome());
        assertEquals(3, store.load().state().exits.size());
        assertEquals(0.5, store.load().state().exits.get(0).threshold);
    }

    @Test
    void theReplacedVersionIsKeptBesideItAndAnUnchangedSaveWritesNothing() throws IOException {
        WorkspaceStore store = new WorkspaceStore(dir);
        store.save(full(), Reason.USER_EDIT);
        assertFalse(Files.exists(store.previousFile()), "nothing replaced yet");
        byte[] first = Files.readAllBytes(store.file());

        // the user removes every exit: written, and the version with the exits is kept as workspace.json.prev
        WorkspaceState none = full(s -> s.exits.clear());
        assertEquals(Outcome.WRITTEN, store.save(none, Reason.USER_EDIT).outcome());
        assertTrue(store.load().state().exits.isEmpty());
        assertArrayEquals(first, Files.readAllBytes(store.previousFile()));

        // saving the same state again neither writes nor rotates the backup away
        assertEquals(Outcome.UNCHANGED, store.save(none, Reason.USER_EDIT).outcome());
        assertEquals(Outcome.UNCHANGED, store.save(none, Reason.AUTOMATIC).outcome());
        assertArrayEquals(first, Files.readAllBytes(store.previousFile()));

        // undo by hand: the backup is a complete workspace file
        Files.copy(store.previousFile(), store.file(), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertEquals(2, store.load().state().exits.size());
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(WorkspaceStore.FILE, WorkspaceStore.PREVIOUS),
                    files.map(p -> p.getFileName().toString()).sorted().toList(), "no temporary files left");
        }
    }

    @Test
    void anAutomaticSaveDoesNotReplaceAFileItCannotRead() throws IOException {
        WorkspaceStore store = new WorkspaceStore(dir);
        Files.writeString(store.file(), "{ \"version\": 99 }");
        WorkspaceStore.Saved r = store.save(full(), Reason.AUTOMATIC);
        assertEquals(Outcome.REFUSED, r.outcome());
        assertEquals("{ \"version\": 99 }", Files.readString(store.file()));
        assertEquals(Outcome.WRITTEN, store.save(full(), Reason.USER_EDIT).outcome());
        assertEquals("{ \"version\": 99 }", Files.readString(store.previousFile()));
    }

    @Test
    void anUnreadableFileIsMovedAsideAndThePreviousVersionLoaded() throws IOException {
        WorkspaceStore store = new WorkspaceStore(dir);
        store.save(full(), Reason.USER_EDIT);
        store.save(full(s -> s.exits.remove(1)), Reason.USER_EDIT);
        Files.writeString(store.file(), "{ not json");
        WorkspaceStore.Loaded l = store.load();
        assertNotNull(l.problem());
        assertTrue(l.problem().contains(WorkspaceStore.PREVIOUS), l.problem());
        assertEquals(2, l.state().exits.size());
        assertEquals("/models/resnet9", l.state().backbone);
        assertFalse(Files.exists(store.file()), "moved aside");

        // without a readable previous version the lab starts afresh
        WorkspaceStore other = new WorkspaceStore(dir.resolve("other"));
        Files.createDirectories(other.dir());
        Files.writeString(other.file(), "{ not json");
        WorkspaceStore.Loaded fresh = other.load();
        assertNull(fresh.state().backbone);
        assertTrue(fresh.problem().contains("fresh"), fresh.problem());
    }
}
