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
     */
    public record Result(PersonalDataset dataset, List<SkippedFile> skipped) { }

    public static final String LABELS_CSV = "labels.csv";
    private static final java.util.Set<String> METADATA = java.util.Set.of("readme.md", "readme.txt", "readme",
            LABELS_CSV, "persona.json", "license", "licence", "license.txt");

    private final LabelSpace labels;
    private final InputSpec checkSpec;

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
        Path root = null;
        int existing = 0;
        for (Path p : paths) {
            Path abs = p.toAbsolutePath().normalize();
            if (Files.isDirectory(abs)) {
                existing++;
                root = root == null ? abs : root;
                scanFolder(abs, found, skipped);
            } else if (Files.isRegularFile(abs)) {
                existing++;
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
        return new Result(new PersonalDataset(root, ok), skipped);
    }

    private void scanFolder(Path root, Map<Path, PersonalImage> found, List<SkippedFile> skipped) throws IOException {
        List<Path> children = list(root);
        boolean structured = children.stream().anyMatch(c -> Files.isDirectory(c)
                && List.of("labelled", "unlabelled", "test", "labeled", "unlabeled").contains(lower(c)));
        for (Path c : children) {
            String name = lower(c);
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
        if (Files.isRegularFile(csv)) {
            applyCsv(root, csv, found, skipped);
        }
    }

    private void classFolders(Path dir, PersonalImage.Split split, Map<Path, PersonalImage> found,
                              List<SkippedFile> skipped) throws IOException {
        for (Path c : list(dir)) {
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
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(Files::isRegularFile).sorted().toList();
        }
        for (Path f : files) {
            candidate(f, label, split, found, skipped);
        }
    }

    private static void candidate(Path f, String label, PersonalImage.Split split, Map<Path, PersonalImage> found,
                                  List<SkippedFile> skipped) {
        String name = f.getFileName().toString();
        if (name.startsWith(".")) {
            return;
        }
        if (!ImageDecoder.looksLikeImage(f)) {
            skipped.add(new SkippedFile(f, "not an image file (expected .png, .jpg, .jpeg, .bmp, .gif or .wbmp)"));
            return;
        }
        found.put(f.toAbsolutePath().normalize(), new PersonalImage(f.toAbsolutePath().normalize(), label, split));
    }

    private void applyCsv(Path root, Path csv, Map<Path, PersonalImage> found, List<SkippedFile> skipped)
            throws IOException {
        List<String> lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#") || (i == 0 && line.toLowerCase(Locale.ROOT).startsWith("path,"))) {
                continue;
            }
            int comma = line.lastIndexOf(',');
            if (comma <= 0 || comma == line.length() - 1) {
                skipped.add(new SkippedFile(csv, "line " + (i + 1) + ": expected 'path,label', got '" + line + "'"));
                continue;
            }
            String rel = unquote(line.substring(0, comma));
            String label = unquote(line.substring(comma + 1));
            Path p = root.resolve(rel).toAbsolutePath().normalize();
            if (!p.startsWith(root)) {
                skipped.add(new SkippedFile(csv, "line " + (i + 1) + ": path '" + rel + "' is outside the folder"));
                continue;
            }
            PersonalImage img = found.get(p);
            if (img == null) {
                if (Files.isRegularFile(p) && ImageDecoder.looksLikeImage(p)) {
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

    private static String unquote(String s) {
        String t = s.strip();
        if (t.length() >= 2 && t.startsWith("\"") && t.endsWith("\"")) {
            t = t.substring(1, t.length() - 1).replace("\"\"", "\"");
        }
        return t;
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
