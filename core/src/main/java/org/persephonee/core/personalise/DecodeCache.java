package org.persephonee.core.personalise;

import org.persephonee.core.backbone.InputSpec;
import org.persephonee.core.data.ImageDecodeException;
import org.persephonee.core.data.ImageDecoder;
import org.persephonee.core.util.AtomicFiles;
import org.persephonee.core.util.Hashes;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Decoded, preprocessed photos kept next to the feature memo, so a run does not decode again a photo file it has
 * decoded before: every run decodes every photo (the feature memo knows a photo by its decoded pixels), and on
 * tilted-phone's JPEGs that was half of an update's cost. A photo file is known by the SHA-256 of its bytes; one
 * file per input spec and decoder version holds the rows, written whole and atomically (temp + rename) when a run
 * decoded something new. A cache file that cannot be read is ignored (and rewritten): never trusted, never fatal.
 */
final class DecodeCache {
    /** Bump when {@link ImageDecoder} gives other floats for the same file (the greyscale fix would have). */
    static final int DECODER_VERSION = 1;
    /** Largest cache file: beyond it only the rows the last run used are written, and none if those do not fit. */
    static final long MAX_BYTES = 128L << 20;
    /** Largest photo file cached (a larger one is decoded every time). */
    static final long MAX_FILE_BYTES = 32L << 20;
    /** Version 2 ends with a CRC-32 of everything before it: a damaged file of the right length is not trusted. */
    private static final byte[] MAGIC = "PEPDC2\n".getBytes(StandardCharsets.US_ASCII);

    private final Path file;
    private final InputSpec spec;
    private final int size;
    private final Map<String, float[]> rows = new HashMap<>();
    private final Map<String, float[]> used = new LinkedHashMap<>();
    private boolean added;
    private int hits;
    /** Bytes of the rows this run used ({@link #used}): new rows are kept only while they fit the cap. */
    private long usedBytes;

    private DecodeCache(Path file, InputSpec spec) {
        this.file = file;
        this.spec = spec;
        this.size = spec.size();
    }

    /** The cache for {@code spec} under {@code dir} (created when first written); unreadable content is left out. */
    static DecodeCache open(Path dir, InputSpec spec) {
        String id = Hashes.sha256((spec + "\ndecoder " + DECODER_VERSION).getBytes(StandardCharsets.UTF_8))
                .substring(0, 16);
        DecodeCache c = new DecodeCache(dir.resolve("decoded-" + id + ".bin"), spec);
        c.dropStaleTemps();
        c.load();
        return c;
    }

    /** Temp files a killed run left behind (an hour old: a run writing now has a fresh one). */
    private void dropStaleTemps() {
        Path dir = file.getParent();
        if (!Files.isDirectory(dir)) {
            return;
        }
        String prefix = "." + file.getFileName();
        long hourAgo = System.currentTimeMillis() - 3_600_000L;
        try (java.util.stream.Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith(prefix)
                    && p.getFileName().toString().endsWith(".tmp")).toList()) {
                if (Files.getLastModifiedTime(p).toMillis() < hourAgo) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException | RuntimeException e) {
            // a cache: nothing to lose
        }
    }

    private void load() {
        if (!Files.isRegularFile(file)) {
            return;
        }
        try {
            byte[] all = Files.readAllBytes(file);
            if (all.length < MAGIC.length + 16 || crc(all, all.length - 8)
                    != ByteBuffer.wrap(all, all.length - 8, 8).getLong()) {
                // a truncated, damaged or older file: decoded again and rewritten
                return;
            }
            ByteBuffer b = ByteBuffer.wrap(all, 0, all.length - 8);
            byte[] magic = new byte[MAGIC.length];
            b.get(magic);
            if (!Arrays.equals(magic, MAGIC) || b.getInt() != size) {
                return;
            }
            int n = b.getInt();
            if (n < 0 || (long) n * rowBytes() != b.remaining()) {
                return;
            }
            byte[] key = new byte[32];
            for (int r = 0; r < n; r++) {
                b.get(key);
                float[] x = new float[size];
                b.asFloatBuffer().get(x);
                b.position(b.position() + 4 * size);
                rows.put(java.util.HexFormat.of().formatHex(key), x);
            }
        } catch (IOException | RuntimeException e) {
            // a truncated or foreign file: decoded again and rewritten
            rows.clear();
        }
    }

    /** The photo's input floats: from the cache when its bytes were decoded before, else decoded now. */
    float[] decode(Path photo) throws ImageDecodeException {
        byte[] bytes;
        try {
            if (Files.size(photo) > MAX_FILE_BYTES) {
                // not read whole into memory to be hashed: the decoder streams it (or refuses it)
                return ImageDecoder.decode(photo, spec);
            }
            bytes = Files.readAllBytes(photo);
        } catch (IOException e) {
            // the decoder names the file and the problem
            return ImageDecoder.decode(photo, spec);
        }
        String key = Hashes.sha256(bytes);
        float[] x = rows.get(key);
        boolean fits = used.containsKey(key) || usedBytes + rowBytes() <= MAX_BYTES;
        if (x != null) {
            hits++;
        } else {
            // the bytes that were keyed, not the file read again (a file rewritten meanwhile is not cached wrongly)
            x = ImageDecoder.decode(photo, bytes, spec);
            if (!fits) {
                // past the cap the photo is decoded every time, and not held twice in memory
                return x;
            }
            rows.put(key, x);
            added = true;
        }
        if (fits && used.put(key, x) == null) {
            usedBytes += rowBytes();
        }
        return x.clone();
    }

    private long rowBytes() {
        return 32L + 4L * size;
    }

    /** Photos this run took from the cache. */
    int hits() { return hits; }

    /**
     * Writes the cache when this run decoded something new (temp + rename), on a thread of its own so that the
     * run does not wait for the disk: the file's content is taken now, and the future gives null when it was
     * written or nothing needed writing, else why not (a failure leaves the old file; the next run decodes again).
     */
    java.util.concurrent.Future<String> saveInBackground() {
        byte[] content;
        try {
            content = content();
        } catch (RuntimeException e) {
            return java.util.concurrent.CompletableFuture.completedFuture(failed(e));
        }
        if (content == null) {
            return java.util.concurrent.CompletableFuture.completedFuture(null);
        }
        java.util.concurrent.FutureTask<String> write = new java.util.concurrent.FutureTask<>(() -> {
            try {
                AtomicFiles.write(file, content);
                return null;
            } catch (IOException | RuntimeException e) {
                return failed(e);
            }
        });
        Thread t = new Thread(write, "persephonee-decode-cache");
        t.setDaemon(true);
        t.start();
        added = false;
        return write;
    }

    /** Writes the cache and waits for the write ({@link #saveInBackground}); null when written or nothing to write. */
    String save() {
        try {
            return saveInBackground().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return failed(e);
        } catch (java.util.concurrent.ExecutionException e) {
            return failed(e.getCause());
        }
    }

    private String failed(Throwable e) {
        return "decoded photos not kept for the next run (" + file + "): " + e.getMessage();
    }

    /** The file to write, or null when nothing new was decoded or the rows this run used do not fit the cap. */
    private byte[] content() {
        if (!added) {
            return null;
        }
        Map<String, float[]> out = (long) rows.size() * rowBytes() <= MAX_BYTES ? rows : used;
        if ((long) out.size() * rowBytes() > MAX_BYTES) {
            return null;
        }
        ByteBuffer b = ByteBuffer.allocate(MAGIC.length + 8 + (int) (out.size() * rowBytes()) + 8);
        b.put(MAGIC).putInt(size).putInt(out.size());
        for (Map.Entry<String, float[]> e : out.entrySet()) {
            b.put(java.util.HexFormat.of().parseHex(e.getKey()));
            b.asFloatBuffer().put(e.getValue());
            b.position(b.position() + 4 * size);
        }
        byte[] a = b.array();
        b.putLong(crc(a, a.length - 8));
        return a;
    }

    private static long crc(byte[] a, int length) {
        java.util.zip.CRC32 c = new java.util.zip.CRC32();
        c.update(a, 0, length);
        return c.getValue();
    }
}
