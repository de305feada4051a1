package org.persephonee.core.personalise;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.Stage;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * Stage outputs at the placed exits and the final logits, computed by one frozen-backbone pass in
 * inference mode. Stores beyond the memory budget spill to memory-mapped temporary files, largest first.
 */
public final class FeatureCache implements AutoCloseable {
    private final Map<String, FeatureStore> stores = new LinkedHashMap<>();
    private final FeatureStore logits;
    private final int rows;
    private final long heapBytes;
    private final long spilledBytes;

    private FeatureCache(Map<String, FeatureStore> stores, FeatureStore logits, int rows) {
        this.stores.putAll(stores);
        this.logits = logits;
        this.rows = rows;
        long heap = 0;
        long spill = 0;
        for (FeatureStore s : stores.values()) {
            if (s.spilled()) {
                spill += s.bytes();
            } else {
                heap += s.bytes();
            }
        }
        this.heapBytes = heap + logits.bytes();
        this.spilledBytes = spill;
    }

    /**
     * Runs the backbone once over {@code images} and caches what the exits need.
     *
     * @param stages names of the stages to cache
     * @param budgetBytes heap budget for stage outputs; beyond it stores spill to {@code spillDir}
     * @param spillDir folder for spilled files, or null for the system temp folder
     * @param progress receives fraction done and ETA seconds
     */
    public static FeatureCache build(Backbone bb, List<float[]> images, List<String> stages, long budgetBytes,
                                     Path spillDir, int batch, java.util.function.BiConsumer<Double, Double> progress,
                                     BooleanSupplier cancelled) throws IOException {
        int n = images.size();
        List<Stage> wanted = new ArrayList<>();
        for (String s : stages) {
            Stage st = bb.stage(s);
            if (st == null) {
                throw new IllegalArgumentException("no stage '" + s + "' in backbone " + bb.id());
            }
            if (!wanted.contains(st)) {
                wanted.add(st);
            }
        }
        // decide which stores stay on the heap: smallest first until the budget is used
        List<Stage> bySize = new ArrayList<>(wanted);
        bySize.sort(Comparator.comparingLong(s -> width(s)));
        Map<String, FeatureStore> stores = new LinkedHashMap<>();
        long used = 0;
        Path dir = spillDir != null ? spillDir : Path.of(System.getProperty("java.io.tmpdir"));
        try {
            Map<String, FeatureStore> tmp = new LinkedHashMap<>();
            for (Stage s : bySize) {
                long bytes = 4L * n * width(s);
                if (used + bytes <= budgetBytes && (long) n * width(s) < Integer.MAX_VALUE - 8) {
                    tmp.put(s.name(), FeatureStore.inMemory(n, (int) width(s)));
                    used += bytes;
                } else {
                    tmp.put(s.name(), FeatureStore.mapped(n, (int) width(s), dir));
                }
            }
            for (Stage s : wanted) {
                stores.put(s.name(), tmp.get(s.name()));
            }
        } catch (IOException | RuntimeException e) {
            stores.values().forEach(FeatureStore::close);
            throw e;
        }
        int classes = bb.classNames().size();
        FeatureStore logits = FeatureStore.inMemory(n, classes);
        FeatureCache cache = new FeatureCache(stores, logits, n);
        int size = bb.input().size();
        long t0 = System.nanoTime();
        try {
            for (int start = 0; start < n; start += batch) {
                if (cancelled.getAsBoolean()) {
                    throw new CancellationException("cancelled while caching features");
                }
                int b = Math.min(batch, n - start);
                float[] x = new float[b * size];
                for (int i = 0; i < b; i++) {
                    System.arraycopy(images.get(start + i), 0, x, i * size, size);
                }
                try (NDManager m = bb.manager().newSubManager()) {
                    List<NDArray> outs = bb.forwardAll(m.create(x, bb.batchShape(b)));
                    for (Stage s : wanted) {
                        float[] f = outs.get(s.index()).toFloatArray();
                        FeatureStore st = stores.get(s.name());
                        for (int i = 0; i < b; i++) {
                            st.put(start + i, f, i * st.width());
                        }
                    }
                    float[] lg = outs.get(outs.size() - 1).toFloatArray();
                    for (int i = 0; i < b; i++) {
                        logits.put(start + i, lg, i * classes);
                    }
                }
                double el = (System.nanoTime() - t0) / 1e9;
                int done = start + b;
                progress.accept(done / (double) n, el / done * (n - done));
            }
        } catch (RuntimeException e) {
            cache.close();
            throw e;
        }
        return cache;
    }

    private static long width(Stage s) {
        long w = 1;
        for (long d : s.outputShape()) {
            w *= d;
        }
        return w;
    }

    public int rows() { return rows; }

    /** The store of one stage. */
    public FeatureStore stage(String name) {
        FeatureStore s = stores.get(name);
        if (s == null) {
            throw new IllegalArgumentException("stage '" + name + "' is not cached");
        }
        return s;
    }

    /** Final-exit logits of the frozen backbone (all its classes). */
    public FeatureStore logits() { return logits; }

    /** Bytes held on the heap. */
    public long heapBytes() { return heapBytes; }

    /** Bytes spilled to memory-mapped files. */
    public long spilledBytes() { return spilledBytes; }

    /** True when any stage spilled to disk. */
    public boolean spilled() { return spilledBytes > 0; }

    @Override
    public void close() {
        stores.values().forEach(FeatureStore::close);
        logits.close();
    }
}
