package org.persephonee.core.data;

import java.nio.file.Path;

/**
 * A file an import left out, and why.
 *
 * @param path non-null
 * @param reason non-null human-readable problem
 */
public record SkippedFile(Path path, String reason) {
    @Override
    public String toString() {
        return path + ": " + reason;
    }
}
