package org.persephonee.core.util;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Copies and deletes folder trees (bundles, backbones, personas, scratch folders) file by file. */
public final class FileTrees {
    private FileTrees() { }

    /**
     * Copies {@code from} and everything below it to {@code to} (created; existing files are not replaced).
     *
     * @throws IOException when a file cannot be read or written
     */
    public static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path q = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(q);
                } else {
                    Files.copy(p, q);
                }
            }
        }
    }

    /**
     * Deletes {@code root} and everything below it; nothing happens when it does not exist. Links are deleted, not
     * followed.
     *
     * @throws IOException when something cannot be deleted (what was deleted before stays deleted)
     */
    public static void delete(Path root) throws IOException {
        if (!Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
