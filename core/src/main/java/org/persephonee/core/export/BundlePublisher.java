package org.persephonee.core.export;

import org.persephonee.core.util.AtomicFiles;
import org.persephonee.core.util.FileTrees;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

import static org.persephonee.core.export.BundleWriter.PID;

/**
 * The atomic publication of a bundle: the new bundle is filled in a temporary sibling folder
 * ({@code .<name>.tmp-<pid>-<n>}), the bundle it replaces is moved aside ({@code .<name>.old-<pid>-<n>}), the new one
 * is renamed into place and the old one deleted; on failure the old bundle is put back and the temporary removed.
 */
final class BundlePublisher {
    private BundlePublisher() { }

    /** Fills a folder. */
    interface Filler {
        void fill(Path tmp) throws IOException;
    }

    /**
     * Assembles a bundle in a temporary sibling folder and renames it to the target: an existing bundle is
     * replaced in one step (moved aside, the new one renamed in, the old one deleted); a folder that is not a
     * bundle is refused. The target must be open (locked).
     */
    static Path publish(BundleTarget t, Filler filler) throws IOException {
        t.checkOpen();
        Path target = t.path();
        BundleContents.refuseUnlessReplaceable(target);
        Path parent = target.getParent();
        String name = target.getFileName().toString();
        Files.createDirectories(parent);
        Path tmp = AtomicFiles.createTempDir(parent, "." + name + ".tmp-" + PID + "-");
        try {
            filler.fill(tmp);
            Path old = null;
            if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                old = parent.resolve("." + name + ".old-" + PID + "-" + Long.toUnsignedString(System.nanoTime()));
                Files.move(target, old);
            }
            try {
                Files.move(tmp, target);
            } catch (IOException e) {
                if (old != null) {
                    Files.move(old, target);
                }
                throw e;
            }
            t.published = true;
            if (old != null) {
                try {
                    FileTrees.delete(old);
                } catch (IOException e) {
                    // the new bundle is in place; the next run for this folder removes what is left
                }
            }
            return target;
        } catch (IOException | RuntimeException e) {
            FileTrees.delete(tmp);
            throw e;
        }
    }
}
