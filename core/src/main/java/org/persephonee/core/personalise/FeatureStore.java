package org.persephonee.core.personalise;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Fixed-size float rows (one per image): on the heap, or in a memory-mapped temporary file when the
 * cache exceeds its memory budget. Closing a spilled store deletes its file.
 *
 * <p>A spill file is named {@code persephonee-features-<pid>-<n>.f32} after the process that made it. Where
 * the file system allows (POSIX), its name is removed as soon as it is open, so the space comes back when
 * the process ends however it ends; elsewhere, or if a run is killed in the moment between creating and
 * unlinking, {@link #removeStaleSpills} deletes the files of processes that are no longer running.
 */
public abstract class FeatureStore implements AutoCloseable {
    protected final int rows;
    protected final int width;

    protected FeatureStore(int rows, int width) {
        this.rows = rows;
        this.width = width;
    }

    public int rows() { return rows; }

    /** Floats per row. */
    public int width() { return width; }

    /** Bytes this store holds. */
    public long bytes() { return 4L * rows * width; }

    /** Copies row {@code r} from {@code src[off..off+width)}. */
    public abstract void put(int r, float[] src, int off);

    /** Copies row {@code r} into {@code dst[off..off+width)}. */
    public abstract void get(int r, float[] dst, int off);

    /** True when the rows live in a file. */
    public abstract boolean spilled();

    @Override
    public void close() { }

    /** A heap store. */
    public static FeatureStore inMemory(int rows, int width) {
        return new Heap(rows, width);
    }

    /** A store backed by a memory-mapped file in {@code dir}. */
    public static FeatureStore mapped(int rows, int width, Path dir) throws IOException {
        return new Mapped(rows, width, dir);
    }

    /** Name prefix of spill files; the owning process id follows. */
    static final String SPILL_PREFIX = "persephonee-features-";
    private static final java.util.regex.Pattern SPILL =
            java.util.regex.Pattern.compile(java.util.regex.Pattern.quote(SPILL_PREFIX) + "(\\d+)-\\d+\\.f32");

    /** What {@link #removeStaleSpills} removed. */
    public record Removed(int files, long bytes) {
        /** One line for the user, e.g. "removed 2 feature-cache spill files left by ended runs in /tmp (180.0 MB)". */
        public String describe(Path dir) {
            return String.format(java.util.Locale.ROOT, "removed %d feature-cache spill file%s left by ended runs "
                    + "in %s (%.1f MB)", files, files == 1 ? "" : "s", dir, bytes / (1024.0 * 1024.0));
        }
    }

    /**
     * Deletes spill files in {@code dir} whose process is no longer running (killed runs leave them; a
     * process with the same id that started after the file was written does not count as its owner). Files
     * of live processes, including this one, other files and files this user may not delete are left alone.
     *
     * @return how many files and bytes were removed (zero when {@code dir} does not exist)
     */
    public static Removed removeStaleSpills(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return new Removed(0, 0);
        }
        int files = 0;
        long bytes = 0;
        List<Path> list;
        try (java.util.stream.Stream<Path> s = Files.list(dir)) {
            list = s.filter(p -> SPILL.matcher(p.getFileName().toString()).matches()).toList();
        }
        for (Path p : list) {
            java.util.regex.Matcher m = SPILL.matcher(p.getFileName().toString());
            if (!m.matches()) {
                continue;
            }
            try {
                java.nio.file.attribute.BasicFileAttributes a = Files.readAttributes(p,
                        java.nio.file.attribute.BasicFileAttributes.class, java.nio.file.LinkOption.NOFOLLOW_LINKS);
                if (!a.isRegularFile() || org.persephonee.core.util.AtomicFiles.ownerAlive(
                        Long.parseLong(m.group(1)), a.lastModifiedTime().toInstant())) {
                    continue;
                }
                Files.delete(p);
                files++;
                bytes += a.size();
            } catch (IOException | NumberFormatException e) {
                // gone meanwhile, another user's, or not a pid: leave it
            }
        }
        return new Removed(files, bytes);
    }

    private static final class Heap extends FeatureStore {
        private final float[] data;

        Heap(int rows, int width) {
            super(rows, width);
            long n = (long) rows * width;
            if (n > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("feature store too large for the heap: " + n + " floats");
            }
            data = new float[(int) n];
        }

        @Override public void put(int r, float[] src, int off) { System.arraycopy(src, off, data, r * width, width); }

        @Override public void get(int r, float[] dst, int off) { System.arraycopy(data, r * width, dst, off, width); }

        @Override public boolean spilled() { return false; }
    }

    private static final class Mapped extends FeatureStore {
        private static final long CHUNK_BYTES = 1L << 30;
        private final Path file;
        /** False once the name is removed (right after opening, where the file system allows). */
        private boolean named = true;
        private final FileChannel channel;
        private final List<FloatBuffer> chunks = new ArrayList<>();
        private final int rowsPerChunk;

        Mapped(int rows, int width, Path dir) throws IOException {
            super(rows, width);
            Files.createDirectories(dir);
            file = Files.createTempFile(dir, SPILL_PREFIX + ProcessHandle.current().pid() + "-", ".f32");
            try {
                channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(file);
                throw e;
            }
            if (dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
                // the open channel keeps the data; without a name nothing is left behind if the process is killed
                try {
                    Files.delete(file);
                    named = false;
                } catch (IOException e) {
                    // keep the name: close() deletes it, removeStaleSpills after a kill
                }
            }
            rowsPerChunk = (int) Math.max(1, CHUNK_BYTES / (4L * width));
            try {
                for (int start = 0; start < rows; start += rowsPerChunk) {
                    int n = Math.min(rowsPerChunk, rows - start);
                    MappedByteBuffer mb = channel.map(FileChannel.MapMode.READ_WRITE, 4L * start * width,
                            4L * n * width);
                    mb.order(ByteOrder.nativeOrder());
                    chunks.add(mb.asFloatBuffer());
                }
            } catch (IOException | RuntimeException e) {
                close();
                throw e;
            }
        }

        @Override
        public void put(int r, float[] src, int off) {
            FloatBuffer fb = chunks.get(r / rowsPerChunk);
            fb.put((r % rowsPerChunk) * width, src, off, width);
        }

        @Override
        public void get(int r, float[] dst, int off) {
            FloatBuffer fb = chunks.get(r / rowsPerChunk);
            fb.get((r % rowsPerChunk) * width, dst, off, width);
        }

        @Override public boolean spilled() { return true; }

        @Override
        public void close() {
            chunks.clear();
            try {
                channel.close();
                if (named) {
                    Files.deleteIfExists(file);
                }
            } catch (IOException e) {
                // temporary file: the OS cleans the temp folder eventually
            }
        }
    }
}
