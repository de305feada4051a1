package org.persephonee.core.util;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/** Writes files so that readers see either the old or the new content, never a half-written file. */
public final class AtomicFiles {
    private AtomicFiles() { }

    /** Writes bytes to a temporary sibling, syncs it and renames it over {@code target}. */
    public static void write(Path target, byte[] data) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
                 OutputStream out = java.nio.channels.Channels.newOutputStream(ch)) {
                out.write(data);
                out.flush();
                ch.force(true);
            }
            makeReadable(tmp);
            move(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Temporary files are owner-only; the final file gets the usual rw-r--r-- where POSIX permissions exist. */
    static void makeReadable(Path p) {
        try {
            Files.setPosixFilePermissions(p, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        } catch (UnsupportedOperationException | IOException e) {
            // not a POSIX file system: keep the defaults
        }
    }

    /** A temporary folder (rwxr-xr-x where POSIX permissions exist) to assemble output before a rename. */
    public static Path createTempDir(Path parent, String prefix) throws IOException {
        Path dir = Files.createTempDirectory(parent, prefix);
        try {
            Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (UnsupportedOperationException e) {
            // not POSIX
        }
        return dir;
    }

    /** Writes UTF-8 text atomically. */
    public static void writeString(Path target, String text) throws IOException {
        write(target, text.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * True when process {@code pid} is running and may have made a file last changed at {@code changed}: a
     * process that started after that time cannot have made it (its pid was reused), so it does not count.
     * Used to tell leftovers of ended runs (named with their pid) from files a live run is using.
     */
    public static boolean ownerAlive(long pid, java.time.Instant changed) {
        if (pid == ProcessHandle.current().pid()) {
            return true;
        }
        java.util.Optional<ProcessHandle> h = ProcessHandle.of(pid);
        if (h.isEmpty() || !h.get().isAlive()) {
            return false;
        }
        // start times are estimates (clock ticks since boot): allow a little slack before calling it a reused pid
        return h.get().info().startInstant().map(st -> !st.isAfter(changed.plusSeconds(5))).orElse(true);
    }

    /** Renames {@code from} to {@code to}, atomically where the file system allows. */
    public static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
