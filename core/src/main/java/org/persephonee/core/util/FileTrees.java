package org.persephonee.core.util;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Copies folder trees (bundles, backbones, personas) file by file. */
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
}
