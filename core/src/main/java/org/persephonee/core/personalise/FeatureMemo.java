package org.persephonee.core.personalise;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.util.AtomicFiles;
import org.persephonee.core.util.Hashes;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The frozen pass's rows kept on disk between runs, so that a person's photos go through the backbone once: a
 * later run (new photos dropped, a resumed run, a restart of the lab) reads the rows of the photos it has seen
 * and runs the backbone on the new ones only.
 *
 * <p>A photo is known by the SHA-256 of its decoded, preprocessed pixels (so the decoder and the input spec are
 * part of its identity), and its rows live in a <em>space</em>: one backbone's weights with one set of BatchNorm
 * statistics (adapted statistics give other features). A space is a folder under the memo's root holding segment
 * files, each written whole and atomically (temp + rename) by one run: the rows of its new photos for every
 * cached request and the final logits. A segment that cannot be read is left out with a note (never trusted,
 * never fatal). The root is size-capped: after a write, whole spaces are deleted least recently used first,
 * then the oldest segments of the current one.
 */
public final class FeatureMemo implements AutoCloseable {
    /** Default size cap of a memo root. */
    public static final long DEFAULT_CAP_BYTES = 512L << 20;
    /** The request key of the final logits. */
    static final String LOGITS = "logits";
    private static final byte[] MAGIC = "PEPFM1\n".getBytes(StandardCharsets.US_ASCII);

    private final Path root;
    private final Path dir;
    private final long capBytes;
    /** request key -> photo hash -> where its row is. */
    private final Map<String, Map<String, Slot>> index = new HashMap<>();
    private final Map<String, Integer> widths = new HashMap<>();
    private final List<String> notes = new ArrayList<>();
    /** Segments opened by {@link #read}, until {@link #close()}. */
    private final Map<Path, FileChannel> open = new HashMap<>();

    private record Slot(Path file, long offset, int width) { }

    private FeatureMemo(Path root, Path dir, long capBytes) {
        this.root = root;
        this.dir = dir;
        this.capBytes = capBytes;
    }

    /**
     * Opens (creating it when needed) the space of a backbone as it is now (its weights and current BatchNorm
     * statistics) under {@code root}, and reads the segments' indexes.
     */
    public static FeatureMemo open(Path root, Backbone bb, long capBytes) throws IOException {
        String stats = Hashes.sha256(BnStats.toBytes(BnStats.snapshot(bb)));
        String space = Hashes.sha256((bb.id() + "\n" + bb.parametersSha256() + "\n" + stats + "\n"
                + bb.input().toString()).getBytes(StandardCharsets.UTF_8)).substring(0, 24);
        Path dir = root.resolve(space);
        Files.createDirectories(dir);
        Path about = dir.resolve("space.txt");
        if (!Files.exists(about)) {
            AtomicFiles.writeString(about, "backbone " + bb.id() + "\nweights " + bb.parametersSha256()
                    + "\nbatchnorm statistics " + stats + "\ninput " + bb.input().toString() + "\n");
        }
        FeatureMemo m = new FeatureMemo(root, dir, capBytes);
        long stale = System.currentTimeMillis() - 10 * 60_000L;
        try (Stream<Path> s = Files.list(dir)) {
            for (Path f : s.sorted().toList()) {
                String n = f.getFileName().toString();
                if (n.matches("seg-.*\\.bin")) {
                    m.readIndex(f);
                } else if (n.startsWith(".seg-") && n.endsWith(".tmp") && f.toFile().lastModified() < stale) {
                    // a segment a killed run was writing: never renamed, never read
                    Files.deleteIfExists(f);
                }
            }
        }
        // used now: eviction goes by the folder's time
        Files.setLastModifiedTime(dir, FileTime.fromMillis(System.currentTimeMillis()));
        return m;
    }

    /** The hash a photo is known by: its decoded, preprocessed pixels. */
    public static String imageKey(float[] pixels) {
        ByteBuffer b = ByteBuffer.allocate(4 * pixels.length);
        b.asFloatBuffer().put(pixels);
        return Hashes.sha256(b.array());
    }

    /** Segments left out, and why. */
    public List<String> notes() { return List.copyOf(notes); }

    /** The space's folder. */
    public Path folder() { return dir; }

    /**
     * Copies the rows this memo keeps for every store and the logits into them.
     *
     * @param stores request key -> store, one row per photo
     * @return the photos it does not know (their indices, ascending)
     */
    int[] readInto(List<String> imageKeys, Map<String, FeatureStore> stores, FeatureStore logits) throws IOException {
        List<String> all = new ArrayList<>(stores.keySet());
        all.add(LOGITS);
        List<Integer> todo = new ArrayList<>();
        for (int i = 0; i < imageKeys.size(); i++) {
            String h = imageKeys.get(i);
            if (!has(h, all)) {
                todo.add(i);
                continue;
            }
            for (Map.Entry<String, FeatureStore> e : stores.entrySet()) {
                float[] row = new float[e.getValue().width()];
                read(h, e.getKey(), row, 0);
                e.getValue().put(i, row, 0);
            }
            float[] row = new float[logits.width()];
            read(h, LOGITS, row, 0);
            logits.put(i, row, 0);
        }
        return todo.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Keeps the rows of the photos {@code todo} (just computed into the stores) as one segment. */
    void keep(List<String> imageKeys, int[] todo, Map<String, FeatureStore> stores, FeatureStore logits)
            throws IOException {
        List<String> hashes = new ArrayList<>();
        Map<String, float[][]> rows = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, FeatureStore> e : stores.entrySet()) {
            rows.put(e.getKey(), new float[todo.length][e.getValue().width()]);
        }
        rows.put(LOGITS, new float[todo.length][logits.width()]);
        for (int j = 0; j < todo.length; j++) {
            hashes.add(imageKeys.get(todo[j]));
            for (Map.Entry<String, FeatureStore> e : stores.entrySet()) {
                e.getValue().get(todo[j], rows.get(e.getKey())[j], 0);
            }
            logits.get(todo[j], rows.get(LOGITS)[j], 0);
        }
        add(hashes, rows);
    }

    /** True when rows of this photo are kept for every one of {@code keys}. */
    boolean has(String image, List<String> keys) {
        for (String k : keys) {
            Map<String, Slot> m = index.get(k);
            if (m == null || !m.containsKey(image)) {
                return false;
            }
        }
        return true;
    }

    /** Copies the kept row of a photo for a request into {@code dst} at {@code off}. */
    void read(String image, String key, float[] dst, int off) throws IOException {
        Slot s = index.get(key).get(image);
        ByteBuffer b = ByteBuffer.allocate(4 * s.width());
        FileChannel ch = open.get(s.file());
        if (ch == null) {
            ch = FileChannel.open(s.file(), StandardOpenOption.READ);
            open.put(s.file(), ch);
        }
        while (b.hasRemaining()) {
            if (ch.read(b, s.offset() + b.position()) < 0) {
                throw new IOException(s.file() + ": ends early");
            }
        }
        b.flip();
        b.asFloatBuffer().get(dst, off, s.width());
    }

    /**
     * Keeps the rows of new photos as one segment (written atomically), then trims the root to its cap.
     *
     * @param images photo hashes, one per row
     * @param rows request key -> one row per photo (all of one width)
     */
    void add(List<String> images, Map<String, float[][]> rows) throws IOException {
        if (images.isEmpty()) {
            return;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.write(MAGIC);
            out.writeInt(rows.size());
            for (Map.Entry<String, float[][]> e : rows.entrySet()) {
                out.writeUTF(e.getKey());
                out.writeInt(e.getValue()[0].length);
            }
            out.writeInt(images.size());
            for (String h : images) {
                out.write(HexFormat.of().parseHex(h));
            }
            for (float[][] r : rows.values()) {
                for (float[] row : r) {
                    for (float v : row) {
                        out.writeFloat(v);
                    }
                }
            }
        }
        Path f = dir.resolve(String.format("seg-%016x-%08x.bin", System.currentTimeMillis(), System.nanoTime() & 0xffffffffL));
        AtomicFiles.write(f, bytes.toByteArray());
        readIndex(f);
        trim(f);
    }

    /** Bytes every space under the root holds. */
    public static long bytes(Path root) throws IOException {
        if (!Files.isDirectory(root)) {
            return 0;
        }
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }

    private void readIndex(Path f) {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            long size = ch.size();
            ByteBuffer head = ByteBuffer.allocate((int) Math.min(size, 1 << 16));
            ch.read(head, 0);
            head.flip();
            byte[] magic = new byte[MAGIC.length];
            head.get(magic);
            if (!java.util.Arrays.equals(magic, MAGIC)) {
                throw new IOException("not a feature segment");
            }
            int nKeys = head.getInt();
            if (nKeys < 1 || nKeys > 256) {
                throw new IOException("bad key count " + nKeys);
            }
            List<String> keys = new ArrayList<>();
            List<Integer> ws = new ArrayList<>();
            for (int k = 0; k < nKeys; k++) {
                byte[] name = new byte[head.getShort() & 0xffff];
                head.get(name);
                keys.add(new String(name, StandardCharsets.UTF_8));
                ws.add(head.getInt());
            }
            int n = head.getInt();
            long rowBytes = ws.stream().mapToLong(w -> 4L * w).sum();
            long dataAt = head.position() + 32L * n;
            if (n < 0 || dataAt + rowBytes * n != size) {
                throw new IOException("size " + size + " does not match its " + n + " photos");
            }
            ByteBuffer hashes = ByteBuffer.allocate(32 * n);
            ch.read(hashes, head.position());
            hashes.flip();
            List<String> images = new ArrayList<>(n);
            byte[] h = new byte[32];
            for (int i = 0; i < n; i++) {
                hashes.get(h);
                images.add(HexFormat.of().formatHex(h));
            }
            long at = dataAt;
            for (int k = 0; k < nKeys; k++) {
                Integer known = widths.putIfAbsent(keys.get(k), ws.get(k));
                if (known != null && !known.equals(ws.get(k))) {
                    throw new IOException(keys.get(k) + " rows of width " + ws.get(k) + ", not " + known);
                }
                Map<String, Slot> m = index.computeIfAbsent(keys.get(k), x -> new HashMap<>());
                for (int i = 0; i < n; i++) {
                    m.put(images.get(i), new Slot(f, at + 4L * ws.get(k) * i, ws.get(k)));
                }
                at += 4L * ws.get(k) * n;
            }
        } catch (IOException | RuntimeException e) {
            notes.add(f.getFileName() + " left out: " + e.getMessage());
        }
    }

    /**
     * Deletes the decoded photos kept next to the memo, then least recently used spaces, then this space's oldest
     * segments, until the root fits its cap.
     */
    private void trim(Path keep) throws IOException {
        long total = bytes(root);
        if (total <= capBytes) {
            return;
        }
        // decoded photos kept next to the memo (DecodeCache) go first: decoding again is cheaper than the backbone
        total = evict(list(root, p -> Files.isRegularFile(p) && p.getFileName().toString().startsWith("decoded-"),
                Comparator.comparingLong(p -> p.toFile().lastModified())), total);
        total = evict(list(root, p -> Files.isDirectory(p) && !p.equals(dir),
                Comparator.comparingLong(p -> p.toFile().lastModified())), total);
        evict(list(dir, p -> p.getFileName().toString().matches("seg-.*\\.bin") && !p.equals(keep),
                Comparator.naturalOrder()), total);
    }

    /** The entries of {@code folder} that {@code which} accepts, in {@code order}. */
    private static List<Path> list(Path folder, java.util.function.Predicate<Path> which, Comparator<Path> order)
            throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.filter(which).sorted(order).toList();
        }
    }

    /**
     * Deletes files or folders in order while the root holds more than its cap ({@code total} bytes now), forgetting
     * the slots of deleted segments; returns what the root then holds.
     */
    private long evict(List<Path> paths, long total) throws IOException {
        for (Path p : paths) {
            if (total <= capBytes) {
                break;
            }
            long b = Files.isDirectory(p) ? bytes(p) : Files.size(p);
            if (Files.isDirectory(p)) {
                org.persephonee.core.util.FileTrees.delete(p);
            } else {
                Files.deleteIfExists(p);
                index.values().forEach(m -> m.values().removeIf(slot -> slot.file().equals(p)));
            }
            total -= b;
        }
        return total;
    }

    /** Closes the segments {@link #read} opened. */
    @Override
    public void close() {
        for (FileChannel ch : open.values()) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // read-only: nothing to lose
            }
        }
        open.clear();
    }

}
