package org.persephonee.core.personalise;

import org.persephonee.core.backbone.InputSpec;
import org.persephonee.core.data.ImageDecodeException;
import org.persephonee.core.data.ImageDecoder;
import org.persephonee.core.util.AtomicFiles;
import org.persephonee.core.util.Hashes;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
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
    private static final byte[] MAGIC = "PEPDC1\n".getBytes(StandardCharsets.US_ASCII);

    private final Path file;
    private final InputSpec spec;
    private final int size;
    private final Map<String, float[]> rows = new HashMap<>();
    private final Map<String, float[]> used = new LinkedHashMap<>();
    private boolean added;
    private int hits;

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
        c.load();
        return c;
    }

    private void load() {
        if (!Files.isRegularFile(file)) {
            return;
        }
        try (InputStream in = Files.newInputStream(file);
             DataInputStream d = new DataInputStream(new java.io.BufferedInputStream(in, 1 << 16))) {
            byte[] magic = d.readNBytes(MAGIC.length);
            if (!Arrays.equals(magic, MAGIC) || d.readInt() != size) {
                return;
            }
            int n = d.readInt();
            if (n < 0 || (long) n * rowBytes() > MAX_BYTES) {
                return;
            }
            Map<String, float[]> read = new HashMap<>();
            byte[] key = new byte[32];
            for (int r = 0; r < n; r++) {
                d.readFully(key);
                float[] x = new float[size];
                for (int i = 0; i < size; i++) {
                    x[i] = d.readFloat();
                }
                read.put(java.util.HexFormat.of().formatHex(key), x);
            }
            rows.putAll(read);
        } catch (IOException | RuntimeException e) {
            // a truncated or foreign file: decoded again and rewritten
            rows.clear();
        }
    }

    /** The photo's input floats: from the cache when its bytes were decoded before, else decoded now. */
    float[] decode(Path photo) throws ImageDecodeException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(photo);
        } catch (IOException | OutOfMemoryError e) {
            // the decoder names the file and the problem
            return ImageDecoder.decode(photo, spec);
        }
        String key = Hashes.sha256(bytes);
        float[] x = rows.get(key);
        if (x != null) {
            hits++;
        } else {
            x = ImageDecoder.decode(photo, spec);
            rows.put(key, x);
            added = true;
        }
        used.put(key, x);
        return x.clone();
    }

    private long rowBytes() {
        return 32L + 4L * size;
    }

    /** Photos this run took from the cache. */
    int hits() { return hits; }

    /** Writes the cache when this run decoded something new (temp + rename); a failure leaves the old file. */
    void save() {
        if (!added) {
            return;
        }
        Map<String, float[]> out = (long) rows.size() * rowBytes() <= MAX_BYTES ? rows : used;
        if ((long) out.size() * rowBytes() > MAX_BYTES) {
            return;
        }
        try {
            ByteArrayOutputStream b = new ByteArrayOutputStream(out.size() * (32 + 4 * size) + 64);
            DataOutputStream d = new DataOutputStream(b);
            d.write(MAGIC);
            d.writeInt(size);
            d.writeInt(out.size());
            for (Map.Entry<String, float[]> e : out.entrySet()) {
                d.write(java.util.HexFormat.of().parseHex(e.getKey()));
                for (float v : e.getValue()) {
                    d.writeFloat(v);
                }
            }
            d.flush();
            Files.createDirectories(file.getParent());
            AtomicFiles.write(file, b.toByteArray());
            added = false;
        } catch (IOException | RuntimeException e) {
            // a cache, not data: the next run decodes again
        }
    }
}
