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
        private final FileChannel channel;
        private final List<FloatBuffer> chunks = new ArrayList<>();
        private final int rowsPerChunk;

        Mapped(int rows, int width, Path dir) throws IOException {
            super(rows, width);
            Files.createDirectories(dir);
            file = Files.createTempFile(dir, "features-", ".f32");
            channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
            rowsPerChunk = (int) Math.max(1, CHUNK_BYTES / (4L * width));
            for (int start = 0; start < rows; start += rowsPerChunk) {
                int n = Math.min(rowsPerChunk, rows - start);
                MappedByteBuffer mb = channel.map(FileChannel.MapMode.READ_WRITE, 4L * start * width, 4L * n * width);
                mb.order(ByteOrder.nativeOrder());
                chunks.add(mb.asFloatBuffer());
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
                Files.deleteIfExists(file);
            } catch (IOException e) {
                // temporary file: the OS cleans the temp folder eventually
            }
        }
    }
}
