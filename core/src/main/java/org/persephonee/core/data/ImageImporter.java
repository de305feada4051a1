package org.persephonee.core.data;

import org.persephonee.core.backbone.InputSpec;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

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

    private final LabelSpace labels;
    private final InputSpec checkSpec;
    private final List<String> notes = new ArrayList<>();

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
        ImportScan scan = new ImportScan(labels);
        notes.clear();
        Path root = null;
        int existing = 0;
        for (Path p : paths) {
            Path abs = p.toAbsolutePath().normalize();
            if (Files.isDirectory(abs)) {
                existing++;
                root = root == null ? abs : root;
                scan.folder(abs, found, skipped);
                Path csv = abs.resolve(LABELS_CSV);
                if (Files.isRegularFile(csv) && scan.linkAllowed(csv, skipped)) {
                    applyCsv(scan, abs, csv, found, skipped);
                }
            } else if (Files.isRegularFile(abs)) {
                existing++;
                scan.file(abs, found, skipped);
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
        if (scan.linksFollowed() > 0) {
            notes.add("followed " + scan.linksFollowed() + " symbolic link(s) that stay inside the folder");
        }
        return new Result(new PersonalDataset(root, ok), skipped, List.copyOf(notes));
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

    private void applyCsv(ImportScan scan, Path root, Path csv, Map<Path, PersonalImage> found,
                          List<SkippedFile> skipped) throws IOException {
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
                if (!scan.linkAllowed(p, why)) {
                    skipped.add(new SkippedFile(csv, "line " + (i + 1) + ": " + why.get(0).path() + ": "
                            + why.get(0).reason()));
                    continue;
                }
            }
            try {
                if (Files.exists(p) && scan.realRoot() != null && !p.toRealPath().startsWith(scan.realRoot())) {
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
                    if (!scan.unseen(p, new ArrayList<>())) {
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
}
