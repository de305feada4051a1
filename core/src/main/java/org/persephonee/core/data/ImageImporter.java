package org.persephonee.core.data;

import org.persephonee.core.backbone.InputSpec;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/**
 * Imports a person's images from folders and files, following the personal-data layout:
 * <ul>
 *   <li>{@code labelled/<class>/*} labelled training images, {@code unlabelled/*} unlabelled ones,
 *       {@code test/<class>/*} held-out labelled test images;</li>
 *   <li>otherwise a folder of class folders is all labelled, and loose images are unlabelled;</li>
 *   <li>an optional {@code labels.csv} ({@code path,label}, paths relative to the root) sets labels.</li>
 * </ul>
 * Class folder names match the label space's names ignoring case, spaces, {@code _}, {@code -} and
 * {@code /}; unknown names become new classes. Every image is decoded once to check it; files that are
 * not images, or are corrupt, are skipped and reported by name, never fatal.
 */
public final class ImageImporter {

    /** Progress of an import. */
    public interface Listener {
        /** Called after each file is checked. */
        void onProgress(int done, int total, Path current);
    }

    /**
     * What an import produced.
     *
     * @param dataset the images that were accepted
     * @param skipped files left out, each with the reason
     * @param notes what the import did that a user should know but that left nothing out (links followed,
     *              the encoding {@code labels.csv} was read in)
     */
    public record Result(PersonalDataset dataset, List<SkippedFile> skipped, List<String> notes) {
        public Result(PersonalDataset dataset, List<SkippedFile> skipped) {
            this(dataset, skipped, List.of());
        }
    }

    public static final String LABELS_CSV = "labels.csv";
    private static final java.util.Set<String> METADATA = java.util.Set.of("readme.md", "readme.txt", "readme",
            LABELS_CSV, "persona.json", "license", "licence", "license.txt");

    private final LabelSpace labels;
    private final InputSpec checkSpec;
    /** Real path of the folder being scanned: links are followed only when they stay inside it. */
    private Path realRoot;
    /** Real paths already taken, so one file reached twice (through a link) is imported once. */
    private final Map<Path, Path> seenReal = new java.util.HashMap<>();
    private final java.util.Set<Path> visitedDirs = new java.util.HashSet<>();
    private final List<String> notes = new ArrayList<>();
    private int linksFollowed;

    /**
     * Creates an importer.
     *
     * @param labels label space used to canonicalise class names (new names are added to it); non-null
     * @param checkSpec when non-null each image is also converted to this spec as part of the check
     */
    public ImageImporter(LabelSpace labels, InputSpec checkSpec) {
        this.labels = labels;
        this.checkSpec = checkSpec;
    }

    /** Imports a persona folder, reporting progress; never throws for bad files, only for a bad root. */
    public Result importFolder(Path root, Listener listener, BooleanSupplier cancelled) throws IOException {
        return importPaths(List.of(root), listener, cancelled);
    }

    /**
     * Imports dropped files and folders. A folder is read with the persona layout rules; a file is an
     * unlabelled image (its parent folder does not give it a label).
     *
     * @param paths non-null, each a file or folder
     * @throws IOException only when none of the paths exists
     */
    public Result importPaths(List<Path> paths, Listener listener, BooleanSupplier cancelled) throws IOException {
        Map<Path, PersonalImage> found = new LinkedHashMap<>();
        List<SkippedFile> skipped = new ArrayList<>();
        seenReal.clear();
        visitedDirs.clear();
        notes.clear();
        linksFollowed = 0;
        Path root = null;
        int existing = 0;
        for (Path p : paths) {
            Path abs = p.toAbsolutePath().normalize();
            if (Files.isDirectory(abs)) {
                existing++;
                root = root == null ? abs : root;
                realRoot = abs.toRealPath();
                visitedDirs.add(realRoot);
                scanFolder(abs, found, skipped);
            } else if (Files.isRegularFile(abs)) {
                existing++;
                realRoot = null;
                candidate(abs, null, PersonalImage.Split.TRAIN, found, skipped);
            } else {
                skipped.add(new SkippedFile(abs, "no such file or folder"));
            }
        }
        if (existing == 0) {
            throw new java.nio.file.NoSuchFileException(paths.isEmpty() ? "(nothing)" : paths.get(0).toString(), null,
                    "no such file or folder");
        }
        List<PersonalImage> ok = new ArrayList<>();
        int done = 0;
        int total = found.size();
        for (PersonalImage img : found.values()) {
            if (cancelled != null && cancelled.getAsBoolean()) {
                throw new CancellationException("import cancelled");
            }
            try {
                java.awt.image.BufferedImage bi = ImageDecoder.read(img.path());
                if (checkSpec != null) {
                    ImageDecoder.toInput(bi, checkSpec, new float[checkSpec.size()], 0);
                }
                ok.add(img);
            } catch (ImageDecodeException e) {
                skipped.add(new SkippedFile(img.path(), e.problem()));
            }
            done++;
            if (listener != null) {
                listener.onProgress(done, total, img.path());
            }
        }
        if (linksFollowed > 0) {
            notes.add("followed " + linksFollowed + " symbolic link(s) that stay inside the folder");
        }
        return new Result(new PersonalDataset(root, ok), skipped, List.copyOf(notes));
    }

    /**
     * Decides what to do with a symbolic link met while scanning: follow it when its target exists and stays
     * inside the imported folder, otherwise report it as skipped.
     *
     * @return true when the entry may be used (not a link, or a link that is followed)
     */
    private boolean linkAllowed(Path p, List<SkippedFile> skipped) {
        if (!Files.isSymbolicLink(p)) {
            return true;
        }
        Path real;
        try {
            real = p.toRealPath();
        } catch (IOException e) {
            String to = "";
            try {
                to = " (points to " + Files.readSymbolicLink(p) + ")";
            } catch (IOException | UnsupportedOperationException ignored) {
                // leave the target out of the message
            }
            skipped.add(new SkippedFile(p, "broken symbolic link" + to));
            return false;
        }
        if (realRoot != null && !real.startsWith(realRoot)) {
            skipped.add(new SkippedFile(p, "symbolic link to " + real + ", outside the imported folder: copy the "
                    + "image in, or import that folder too"));
            return false;
        }
        linksFollowed++;
        return true;
    }

    private void scanFolder(Path root, Map<Path, PersonalImage> found, List<SkippedFile> skipped) throws IOException {
        List<Path> children = list(root);
        boolean structured = children.stream().anyMatch(c -> Files.isDirectory(c)
                && List.of("labelled", "unlabelled", "test", "labeled", "unlabeled").contains(lower(c)));
        for (Path c : children) {
            String name = lower(c);
            if (!linkAllowed(c, skipped)) {
                continue;
            }
            if (Files.isDirectory(c)) {
                switch (name) {
                    case "labelled", "labeled" -> classFolders(c, PersonalImage.Split.TRAIN, found, skipped);
                    case "test" -> classFolders(c, PersonalImage.Split.TEST, found, skipped);
                    case "unlabelled", "unlabeled" -> walk(c, null, PersonalImage.Split.TRAIN, found, skipped);
                    default -> {
                        if (structured) {
                            skipped.add(new SkippedFile(c, "folder ignored: a persona folder with labelled/, "
                                    + "unlabelled/ or test/ keeps all images in those"));
                        } else {
                            walk(c, labels.name(labels.resolve(c.getFileName().toString())),
                                    PersonalImage.Split.TRAIN, found, skipped);
                        }
                    }
                }
            } else if (!METADATA.contains(name)) {
                candidate(c, null, PersonalImage.Split.TRAIN, found, skipped);
            }
        }
        Path csv = root.resolve(LABELS_CSV);
        if (Files.isRegularFile(csv) && linkAllowed(csv, skipped)) {
            applyCsv(root, csv, found, skipped);
        }
    }

    private void classFolders(Path dir, PersonalImage.Split split, Map<Path, PersonalImage> found,
                              List<SkippedFile> skipped) throws IOException {
        for (Path c : list(dir)) {
            if (!linkAllowed(c, skipped)) {
                continue;
            }
            if (Files.isDirectory(c)) {
                walk(c, labels.name(labels.resolve(c.getFileName().toString())), split, found, skipped);
            } else {
                skipped.add(new SkippedFile(c, "not in a class folder: files under " + dir.getFileName()
                        + "/ go in " + dir.getFileName() + "/<class>/"));
            }
        }
    }

    private void walk(Path dir, String label, PersonalImage.Split split, Map<Path, PersonalImage> found,
                      List<SkippedFile> skipped) throws IOException {
        Path real = dir.toRealPath();
        if (!visitedDirs.add(real)) {
            skipped.add(new SkippedFile(dir, "folder already imported (reached again through a symbolic link)"));
            return;
        }
        for (Path c : list(dir)) {
            if (!linkAllowed(c, skipped)) {
                continue;
            }
            if (Files.isDirectory(c)) {
                walk(c, label, split, found, skipped);
            } else if (Files.isRegularFile(c)) {
                candidate(c, label, split, found, skipped);
            } else {
                skipped.add(new SkippedFile(c, "not a regular file"));
            }
        }
    }

    private void candidate(Path f, String label, PersonalImage.Split split, Map<Path, PersonalImage> found,
                           List<SkippedFile> skipped) {
        String name = f.getFileName().toString();
        if (name.startsWith(".")) {
            return;
        }
        if (!ImageDecoder.looksLikeImage(f)) {
            skipped.add(new SkippedFile(f, "not an image file (expected .png, .jpg, .jpeg, .bmp, .gif or .wbmp)"));
            return;
        }
        if (!unseen(f, skipped)) {
            return;
        }
        found.put(f.toAbsolutePath().normalize(), new PersonalImage(f.toAbsolutePath().normalize(), label, split));
    }

    /** Records the file's real path; false (and reported) when another entry already reached that file. */
    private boolean unseen(Path f, List<SkippedFile> skipped) {
        Path real;
        try {
            real = f.toRealPath();
        } catch (IOException e) {
            real = f.toAbsolutePath().normalize();
        }
        Path first = seenReal.putIfAbsent(real, f.toAbsolutePath().normalize());
        if (first != null && !first.equals(f.toAbsolutePath().normalize())) {
            skipped.add(new SkippedFile(f, "same file as " + first + " (imported once)"));
            return false;
        }
        return true;
    }

    /**
     * Reads {@code labels.csv} as UTF-8 (a byte-order mark is dropped), or as Windows-1252/Latin-1 when it is
     * not valid UTF-8, saying so.
     */
    private String csvText(Path csv) throws IOException {
        byte[] bytes = Files.readAllBytes(csv);
        int start = bytes.length >= 3 && (bytes[0] & 0xff) == 0xEF && (bytes[1] & 0xff) == 0xBB
                && (bytes[2] & 0xff) == 0xBF ? 3 : 0;
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(bytes, start, bytes.length - start);
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                    .decode(buf).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            java.nio.charset.Charset cp1252 = java.nio.charset.Charset.isSupported("windows-1252")
                    ? java.nio.charset.Charset.forName("windows-1252") : StandardCharsets.ISO_8859_1;
            notes.add(csv + ": not valid UTF-8, read as " + cp1252.displayName(Locale.ROOT)
                    + " (save it as UTF-8 to be sure of accented class names)");
            return new String(bytes, start, bytes.length - start, cp1252);
        }
    }

    private void applyCsv(Path root, Path csv, Map<Path, PersonalImage> found, List<SkippedFile> skipped)
            throws IOException {
        String text;
        try {
            text = csvText(csv);
        } catch (IOException e) {
            skipped.add(new SkippedFile(csv, "cannot be read (" + e.getMessage() + "); no labels taken from it"));
            return;
        }
        for (LabelsCsv.Row row : LabelsCsv.rows(text, (line, why) -> skipped.add(new SkippedFile(csv, "line " + line + ": " + why)))) {
            long i = row.line() - 1;
            String rel = row.path();
            String label = row.label();
            Path p;
            try {
                p = root.resolve(rel).toAbsolutePath().normalize();
            } catch (java.nio.file.InvalidPathException e) {
                skipped.add(new SkippedFile(csv, "line " + (i + 1) + ": '" + rel + "' is not a valid path ("
                        + e.getReason() + ")"));
                continue;
            }
            if (!p.startsWith(root)) {
                skipped.add(new SkippedFile(csv, "line " + (i + 1) + ": path '" + rel + "' is outside the folder"));
                continue;
            }
            if (Files.isSymbolicLink(p) && !found.containsKey(p)) {
                List<SkippedFile> why = new ArrayList<>();
                if (!linkAllowed(p, why)) {
                    skipped.add(new SkippedFile(csv, "line " + (i + 1) + ": " + why.get(0).path() + ": "
                            + why.get(0).reason()));
                    continue;
                }
            }
            try {
                if (Files.exists(p) && realRoot != null && !p.toRealPath().startsWith(realRoot)) {
                    skipped.add(new SkippedFile(csv, "line " + (i + 1) + ": path '" + rel
                            + "' leads outside the folder (through a symbolic link)"));
                    continue;
                }
            } catch (IOException e) {
                skipped.add(new SkippedFile(csv, "line " + (i + 1) + ": cannot read '" + rel + "' (" + e.getMessage() + ")"));
                continue;
            }
            PersonalImage img = found.get(p);
            if (img == null) {
                if (Files.isRegularFile(p) && ImageDecoder.looksLikeImage(p)) {
                    if (!unseen(p, new ArrayList<>())) {
                        skipped.add(new SkippedFile(csv, "line " + (i + 1) + ": '" + rel
                                + "' is the same file as one already imported"));
                        continue;
                    }
                    img = new PersonalImage(p, null, PersonalImage.Split.TRAIN);
                } else {
                    skipped.add(new SkippedFile(csv, "line " + (i + 1) + ": no image '" + rel + "'"));
                    continue;
                }
            }
            String canonical = label.isBlank() ? null : labels.name(labels.resolve(label));
            found.put(p, img.withLabel(canonical));
        }
    }

    private static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
        }
    }

    private static String lower(Path p) {
        return p.getFileName().toString().toLowerCase(Locale.ROOT);
    }
}
