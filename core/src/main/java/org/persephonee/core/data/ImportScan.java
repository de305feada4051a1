package org.persephonee.core.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * One import's walk through the dropped folders and files ({@link ImageImporter}): the persona layout rules that
 * decide which files are candidate images and with what label and split, which symbolic links are followed (those
 * whose target stays inside the folder being imported), and which entries are the same file reached twice. It
 * keeps what it has seen, so one instance serves one import.
 */
final class ImportScan {
    private static final Set<String> METADATA = Set.of("readme.md", "readme.txt", "readme",
            ImageImporter.LABELS_CSV, "persona.json", "license", "licence", "license.txt");

    private final LabelSpace labels;
    /** Real path of the folder being scanned: links are followed only when they stay inside it. */
    private Path realRoot;
    /** Real paths already taken, so one file reached twice (through a link) is imported once. */
    private final Map<Path, Path> seenReal = new HashMap<>();
    private final Set<Path> visitedDirs = new HashSet<>();
    private int linksFollowed;

    ImportScan(LabelSpace labels) {
        this.labels = labels;
    }

    /** Scans a dropped folder with the persona layout rules; links must stay inside it. */
    void folder(Path abs, Map<Path, PersonalImage> found, List<SkippedFile> skipped) throws IOException {
        realRoot = abs.toRealPath();
        visitedDirs.add(realRoot);
        scanFolder(abs, found, skipped);
    }

    /** Takes a dropped file as an unlabelled training image (its parent folder gives it no label). */
    void file(Path abs, Map<Path, PersonalImage> found, List<SkippedFile> skipped) {
        realRoot = null;
        candidate(abs, null, PersonalImage.Split.TRAIN, found, skipped);
    }

    /** Real path of the folder last scanned, or null after a dropped file. */
    Path realRoot() {
        return realRoot;
    }

    /** Symbolic links followed so far. */
    int linksFollowed() {
        return linksFollowed;
    }

    /**
     * Decides what to do with a symbolic link met while scanning: follow it when its target exists and stays
     * inside the imported folder, otherwise report it as skipped.
     *
     * @return true when the entry may be used (not a link, or a link that is followed)
     */
    boolean linkAllowed(Path p, List<SkippedFile> skipped) {
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
    boolean unseen(Path f, List<SkippedFile> skipped) {
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

    private static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
        }
    }

    private static String lower(Path p) {
        return p.getFileName().toString().toLowerCase(Locale.ROOT);
    }
}
