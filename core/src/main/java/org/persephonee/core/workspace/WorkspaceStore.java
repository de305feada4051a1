package org.persephonee.core.workspace;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
import org.persephonee.core.util.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Saves and restores the lab's workspace ({@code workspace.json} in a folder, by default
 * {@code ~/.persephonee}). Writes are atomic (temporary file + rename); an unreadable file is moved aside
 * (never deleted) and reported, and the lab starts fresh.
 */
public final class WorkspaceStore {
    public static final String FILE = "workspace.json";
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

    private final Path dir;

    /** A store in {@code dir} (created on first save). */
    public WorkspaceStore(Path dir) {
        this.dir = dir;
    }

    /** The default folder: {@code persephonee.workspace} system property, else {@code ~/.persephonee}. */
    public static Path defaultDir() {
        String p = System.getProperty("persephonee.workspace");
        return p != null ? Path.of(p) : Path.of(System.getProperty("user.home"), ".persephonee");
    }

    public Path dir() { return dir; }

    public Path file() { return dir.resolve(FILE); }

    /** Result of loading: the state (never null) and a problem to tell the user about, or null. */
    public record Loaded(WorkspaceState state, String problem) { }

    /** Loads the workspace, or a fresh one when there is none or it is unreadable. */
    public Loaded load() {
        Path f = file();
        if (!Files.isRegularFile(f)) {
            return new Loaded(new WorkspaceState(), null);
        }
        try {
            WorkspaceState s = GSON.fromJson(Files.readString(f), WorkspaceState.class);
            if (s == null) {
                throw new JsonParseException("empty file");
            }
            if (s.version != WorkspaceState.VERSION) {
                throw new JsonParseException("version " + s.version + " is not supported");
            }
            if (s.exits == null) {
                s.exits = new java.util.ArrayList<>();
            }
            if (s.images == null) {
                s.images = new java.util.ArrayList<>();
            }
            if (s.settings == null) {
                s.settings = new java.util.LinkedHashMap<>();
            }
            return new Loaded(s, null);
        } catch (IOException | JsonParseException e) {
            Path aside = dir.resolve(FILE + ".unreadable-" + System.currentTimeMillis());
            try {
                Files.move(f, aside);
            } catch (IOException ignored) {
                aside = f;
            }
            return new Loaded(new WorkspaceState(), f + ": could not be read (" + e.getMessage()
                    + "); started a fresh workspace and kept the old file as " + aside.getFileName());
        }
    }

    /** Saves atomically. */
    public void save(WorkspaceState s) throws IOException {
        Files.createDirectories(dir);
        AtomicFiles.writeString(file(), GSON.toJson(s) + "\n");
    }
}
