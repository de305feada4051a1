package org.persephonee.core.workspace;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
import org.persephonee.core.util.AtomicFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Saves and restores the lab's workspace ({@code workspace.json} in a folder, by default
 * {@code ~/.persephonee}).
 *
 * <p>Rules: writes are atomic (temporary file + rename); the version being replaced is first kept,
 * atomically too, as {@code workspace.json.prev}, so a wrong save can be undone by hand; a save that
 * changes nothing writes nothing; a save the lab makes on its own ({@link Reason#AUTOMATIC}) is refused
 * when the state would know less than the file on disk (see {@link #forgets}); only a save caused by the
 * user ({@link Reason#USER_EDIT}) may forget what the user removed or replaced. An unreadable file is
 * moved aside (never deleted) and reported; the lab then starts from the previous version when that one
 * is readable, else afresh.
 */
public final class WorkspaceStore {
    public static final String FILE = "workspace.json";
    /** The version replaced by the latest save. */
    public static final String PREVIOUS = FILE + ".prev";
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

    /** Why a state is saved: decides whether it may forget what the file on disk knows. */
    public enum Reason {
        /**
         * The lab saves on its own, not because the user changed anything (for instance once a workspace has
         * been restored at start): refused when the state would forget anything the file holds.
         */
        AUTOMATIC,
        /**
         * The user changed the workspace (placed or removed exits, imported or removed images, changed
         * settings or thresholds, opened a backbone, personalised): what the user removed or replaced is
         * forgotten.
         */
        USER_EDIT
    }

    /** What a save did. */
    public enum Outcome {
        /** The file now holds the state (the replaced version is kept as {@link #PREVIOUS}). */
        WRITTEN,
        /** The file already held exactly this state: nothing written. */
        UNCHANGED,
        /** An automatic save that would have forgotten something: the file is left as it was. */
        REFUSED
    }

    /**
     * Result of a save.
     *
     * @param outcome what happened
     * @param kept for {@link Outcome#REFUSED}, what the file holds that the state would have forgotten;
     *             otherwise empty
     */
    public record Saved(Outcome outcome, List<String> kept) { }

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

    /** Where the version replaced by the latest save is kept. */
    public Path previousFile() { return dir.resolve(PREVIOUS); }

    /** Result of loading: the state (never null) and a problem to tell the user about, or null. */
    public record Loaded(WorkspaceState state, String problem) { }

    /**
     * Loads the workspace, or a fresh one when there is none. An unreadable file is moved aside; the
     * previous version ({@link #PREVIOUS}) is loaded instead when it is readable.
     */
    public Loaded load() {
        Path f = file();
        if (!Files.isRegularFile(f)) {
            return new Loaded(new WorkspaceState(), null);
        }
        try {
            return new Loaded(parse(Files.readString(f)), null);
        } catch (IOException | JsonParseException e) {
            Path aside = dir.resolve(FILE + ".unreadable-" + System.currentTimeMillis());
            try {
                Files.move(f, aside);
            } catch (IOException ignored) {
                aside = f;
            }
            String problem = f + ": could not be read (" + e.getMessage() + "); ";
            Path prev = previousFile();
            if (Files.isRegularFile(prev)) {
                try {
                    WorkspaceState p = parse(Files.readString(prev));
                    return new Loaded(p, problem + "started from the previous version (" + prev.getFileName()
                            + ") and kept the unreadable file as " + aside.getFileName());
                } catch (IOException | JsonParseException ignored) {
                    // not readable either: start afresh
                }
            }
            return new Loaded(new WorkspaceState(), problem + "started a fresh workspace and kept the old file as "
                    + aside.getFileName());
        }
    }

    private static WorkspaceState parse(String json) {
        WorkspaceState s = GSON.fromJson(json, WorkspaceState.class);
        if (s == null) {
            throw new JsonParseException("empty file");
        }
        if (s.version != WorkspaceState.VERSION) {
            throw new JsonParseException("version " + s.version + " is not supported");
        }
        if (s.exits == null) {
            s.exits = new ArrayList<>();
        }
        if (s.images == null) {
            s.images = new ArrayList<>();
        }
        if (s.settings == null) {
            s.settings = new LinkedHashMap<>();
        }
        s.exits.removeIf(java.util.Objects::isNull);
        s.images.removeIf(java.util.Objects::isNull);
        return s;
    }

    /**
     * Saves {@code s} atomically, keeping the version it replaces as {@link #PREVIOUS}; an
     * {@link Reason#AUTOMATIC} save that would forget anything the file holds (or replace a file that
     * cannot be read) is refused and the file left as it is.
     *
     * @param why who asked for the save
     */
    public Saved save(WorkspaceState s, Reason why) throws IOException {
        Files.createDirectories(dir);
        Path f = file();
        byte[] next = (GSON.toJson(s) + "\n").getBytes(StandardCharsets.UTF_8);
        byte[] current = Files.isRegularFile(f) ? Files.readAllBytes(f) : null;
        if (current != null && Arrays.equals(current, next)) {
            return new Saved(Outcome.UNCHANGED, List.of());
        }
        if (current != null && why != Reason.USER_EDIT) {
            List<String> lost;
            try {
                lost = forgets(parse(new String(current, StandardCharsets.UTF_8)), s);
            } catch (JsonParseException e) {
                lost = List.of("its content, which this lab cannot read (" + e.getMessage() + ")");
            }
            if (!lost.isEmpty()) {
                return new Saved(Outcome.REFUSED, lost);
            }
        }
        if (current != null) {
            AtomicFiles.write(previousFile(), current);
        }
        AtomicFiles.write(f, next);
        return new Saved(Outcome.WRITTEN, List.of());
    }

    /**
     * What {@code next} would forget of {@code known}: the backbone reference (dropped or replaced), placed
     * exits (by stage and head; thresholds may change), the last run, imported images (by path) and image
     * labels. Settings and thresholds are values, not knowledge: changing them forgets nothing. Paths are
     * compared as absolute, normalised paths, heads by their canonical id ({@code conv} is {@code conv32x1}).
     *
     * @return human-readable items, empty when {@code next} knows at least as much
     */
    public static List<String> forgets(WorkspaceState known, WorkspaceState next) {
        List<String> out = new ArrayList<>();
        if (known.backbone != null && (next.backbone == null || !path(known.backbone).equals(path(next.backbone)))) {
            out.add("the backbone " + known.backbone);
        }
        Set<String> exits = new HashSet<>();
        for (WorkspaceState.Exit e : nonNull(next.exits)) {
            exits.add(e.stage + ":" + head(e.head));
        }
        for (WorkspaceState.Exit e : nonNull(known.exits)) {
            if (!exits.contains(e.stage + ":" + head(e.head))) {
                out.add("the exit " + e.stage + ":" + e.head);
            }
        }
        if (known.lastRun != null && !known.lastRun.equals(next.lastRun)) {
            out.add("the last run (" + known.lastRun + ")");
        }
        Map<String, WorkspaceState.Image> images = new HashMap<>();
        for (WorkspaceState.Image i : nonNull(next.images)) {
            images.put(path(i.path), i);
        }
        int missing = 0;
        int unlabelled = 0;
        for (WorkspaceState.Image i : nonNull(known.images)) {
            WorkspaceState.Image n = images.get(path(i.path));
            if (n == null) {
                missing++;
            } else if (i.label != null && n.label == null) {
                unlabelled++;
            }
        }
        if (missing > 0) {
            out.add(missing + " imported image(s)");
        }
        if (unlabelled > 0) {
            out.add("the labels of " + unlabelled + " image(s)");
        }
        return out;
    }

    private static String head(String h) {
        try {
            return org.persephonee.core.exits.HeadSpec.parse(h).id();
        } catch (RuntimeException e) {
            return String.valueOf(h);
        }
    }

    private static String path(String p) {
        if (p == null) {
            return "";
        }
        try {
            return Path.of(p).toAbsolutePath().normalize().toString();
        } catch (java.nio.file.InvalidPathException e) {
            return p;
        }
    }

    private static <T> List<T> nonNull(List<T> l) {
        if (l == null) {
            return List.of();
        }
        return l.stream().filter(java.util.Objects::nonNull).toList();
    }
}
