package org.persephonee.core.personalise;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.SequentialBlock;
import ai.djl.training.ParameterStore;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.LayerSpec;
import org.persephonee.core.backbone.Stage;
import org.persephonee.core.engine.EngineWorkers;

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
    private double markSeconds = Double.NaN;
    /** The first rows, the training images' when evaluation images follow them ({@link #build}'s mark). */
    private int trainRows;
    /** Rows the trainings of linear heads gather batches from, kept for the run ({@link #resident}). */
    private final Map<String, LinearHeads.Resident> resident = new java.util.HashMap<>();
    private ai.djl.ndarray.NDManager residentManager;
    private int computed;
    private String memoNote;

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
     * What to cache at one stage: its output, or its output passed through parameter-free layers
     * (a head's pooling) so that only the small pooled rows are kept.
     *
     * @param stage stage name
     * @param prefix parameter-free layers applied to the stage output; empty for the raw output
     */
    public record Request(String stage, List<LayerSpec> prefix) {
        public Request {
            prefix = List.copyOf(prefix);
        }

        /** The raw output of a stage. */
        public static Request raw(String stage) {
            return new Request(stage, List.of());
        }

        String key() {
            return prefix.isEmpty() ? stage : stage + "|" + prefix;
        }
    }

    /**
     * Runs the backbone once over {@code images} and caches raw stage outputs.
     *
     * @see #build(Backbone, List, List, long, Path, int, int, java.util.function.BiConsumer, BooleanSupplier)
     */
    public static FeatureCache build(Backbone bb, List<float[]> images, List<String> stages, long budgetBytes,
                                     Path spillDir, int batch, java.util.function.BiConsumer<Double, Double> progress,
                                     BooleanSupplier cancelled) throws IOException {
        return build(bb, images, stages.stream().map(Request::raw).toList(), budgetBytes, spillDir, batch,
                images.size(), progress, cancelled);
    }

    /**
     * Runs the backbone once over {@code images} and caches what the exits need.
     *
     * @param requests what to cache (duplicates are stored once)
     * @param budgetBytes heap budget for cached rows; beyond it stores spill to {@code spillDir}
     * @param spillDir folder for spilled files, or null for the system temp folder
     * @param mark the seconds taken by the first {@code mark} images are recorded ({@link #markSeconds()}):
     *             the training images, when evaluation images follow them
     * @param progress receives fraction done and ETA seconds
     */
    public static FeatureCache build(Backbone bb, List<float[]> images, List<Request> requests, long budgetBytes,
                                     Path spillDir, int batch, int mark,
                                     java.util.function.BiConsumer<Double, Double> progress,
                                     BooleanSupplier cancelled) throws IOException {
        return build(bb, images, requests, budgetBytes, spillDir, batch, mark, null, progress, cancelled);
    }

    /**
     * As {@link #build(Backbone, List, List, long, Path, int, int, java.util.function.BiConsumer, BooleanSupplier)},
     * reading the rows of photos the memo knows and running the backbone on the others only, whose rows it then
     * keeps.
     *
     * @param memo rows kept from earlier runs for the backbone as it is now, or null
     */
    public static FeatureCache build(Backbone bb, List<float[]> images, List<Request> requests, long budgetBytes,
                                     Path spillDir, int batch, int mark, FeatureMemo memo,
                                     java.util.function.BiConsumer<Double, Double> progress,
                                     BooleanSupplier cancelled) throws IOException {
        int n = images.size();
        Map<String, Request> wanted = new LinkedHashMap<>();
        Map<String, Long> widths = new LinkedHashMap<>();
        for (Request r : requests) {
            Stage st = bb.stage(r.stage());
            if (st == null) {
                throw new IllegalArgumentException("no stage '" + r.stage() + "' in backbone " + bb.id());
            }
            long w = 1;
            for (long d : LayerSpec.chainShape(r.prefix(), st.outputShape())) {
                w *= d;
            }
            wanted.putIfAbsent(r.key(), r);
            widths.put(r.key(), w);
        }
        // decide which stores stay on the heap: smallest first until the budget is used
        List<String> bySize = new ArrayList<>(wanted.keySet());
        bySize.sort(Comparator.comparingLong(widths::get));
        Map<String, FeatureStore> stores = new LinkedHashMap<>();
        long used = 0;
        Path dir = spillDir != null ? spillDir : Path.of(System.getProperty("java.io.tmpdir"));
        try {
            Map<String, FeatureStore> tmp = new LinkedHashMap<>();
            for (String key : bySize) {
                long width = widths.get(key);
                long bytes = 4L * n * width;
                if (used + bytes <= budgetBytes && (long) n * width < Integer.MAX_VALUE - 8) {
                    tmp.put(key, FeatureStore.inMemory(n, (int) width));
                    used += bytes;
                } else {
                    tmp.put(key, FeatureStore.mapped(n, (int) width, dir));
                }
            }
            for (String key : wanted.keySet()) {
                stores.put(key, tmp.get(key));
            }
        } catch (IOException | RuntimeException e) {
            stores.values().forEach(FeatureStore::close);
            throw e;
        }
        int classes = bb.classNames().size();
        FeatureStore logits = FeatureStore.inMemory(n, classes);
        FeatureCache cache = new FeatureCache(stores, logits, n);
        cache.trainRows = Math.min(n, mark);
        long t0 = System.nanoTime();
        int[] todo;
        List<String> imageKeys = null;
        try {
            if (memo != null) {
                imageKeys = images.stream().map(FeatureMemo::imageKey).toList();
                todo = memo.readInto(imageKeys, stores, logits);
            } else {
                todo = java.util.stream.IntStream.range(0, n).toArray();
            }
        } catch (IOException | RuntimeException e) {
            cache.close();
            throw e;
        }
        cache.computed = todo.length;
        int trainTodo = (int) java.util.Arrays.stream(todo).filter(i -> i < mark).count();
        // the batches run on the run's engine threads as that many threads of one engine thread each
        // (EngineWorkers), the training images' first, so their seconds can be told apart
        try (NDManager pm = bb.manager().newSubManager()) {
            // the parameter-free prefixes, as DJL blocks (initialised once: they hold no parameters)
            Map<String, SequentialBlock> prefixes = new LinkedHashMap<>();
            for (Map.Entry<String, Request> e : wanted.entrySet()) {
                Request r = e.getValue();
                if (!r.prefix().isEmpty()) {
                    SequentialBlock blk = LayerSpec.sequence(r.prefix());
                    long[] s = bb.stage(r.stage()).outputShape();
                    blk.initialize(pm, DataType.FLOAT32, new Shape(1, s[0], s[1], s[2]));
                    prefixes.put(e.getKey(), blk);
                }
            }
            Pass pass = new Pass(bb, images, todo, wanted, prefixes, stores, logits, t0, todo.length, progress,
                    new java.util.concurrent.atomic.AtomicInteger());
            EngineWorkers.batches(THREAD_NAME, 0, trainTodo, batch, cancelled, pass::batch);
            cache.markSeconds = (System.nanoTime() - t0) / 1e9;
            EngineWorkers.batches(THREAD_NAME, trainTodo, todo.length, batch, cancelled, pass::batch);
        } catch (CancellationException e) {
            cache.close();
            throw new CancellationException("cancelled while caching features");
        } catch (RuntimeException e) {
            cache.close();
            throw e;
        }
        if (memo != null && todo.length > 0) {
            try {
                memo.keep(imageKeys, todo, stores, logits);
            } catch (IOException | RuntimeException e) {
                // a memo that cannot be written costs the next run time, not this one
                cache.memoNote = "feature memo not updated: " + e.getMessage();
            }
        }
        return cache;
    }

    private static final String THREAD_NAME = "persephonee-frozen-pass";

    /** One frozen pass's batches (rows are written once each, whichever thread runs the batch). */
    private record Pass(Backbone bb, List<float[]> images, int[] todo, Map<String, Request> wanted,
                        Map<String, SequentialBlock> prefixes, Map<String, FeatureStore> stores, FeatureStore logits,
                        long t0, int left, java.util.function.BiConsumer<Double, Double> progress,
                        java.util.concurrent.atomic.AtomicInteger done) {

        void batch(int start, int b) {
            int size = bb.input().size();
            float[] x = new float[b * size];
            for (int i = 0; i < b; i++) {
                System.arraycopy(images.get(todo[start + i]), 0, x, i * size, size);
            }
            try (NDManager m = bb.manager().newSubManager()) {
                List<NDArray> outs = bb.forwardAll(m.create(x, bb.batchShape(b)));
                ParameterStore ps = new ParameterStore(m, false);
                // every request's rows and the logits side by side in one (b, total) tensor: one copy to the
                // heap per batch instead of one per request (a dozen JNI copies and large arrays per batch)
                NDList parts = new NDList();
                List<FeatureStore> order = new ArrayList<>();
                for (Map.Entry<String, Request> e : wanted.entrySet()) {
                    NDArray out = outs.get(bb.stage(e.getValue().stage()).index());
                    SequentialBlock blk = prefixes.get(e.getKey());
                    if (blk != null) {
                        out = blk.forward(ps, new NDList(out), false).singletonOrThrow();
                    }
                    parts.add(out.reshape(b, -1));
                    order.add(stores.get(e.getKey()));
                }
                parts.add(outs.get(outs.size() - 1).reshape(b, -1));
                order.add(logits);
                float[] f = NDArrays.concat(parts, 1).toFloatArray();
                int total = f.length / b;
                int at = 0;
                for (int k = 0; k < order.size(); k++) {
                    FeatureStore st = order.get(k);
                    long w = parts.get(k).getShape().get(1);
                    if (w != st.width()) {
                        throw new IllegalStateException("feature cache: a request gave " + w
                                + " values per image where its store holds " + st.width());
                    }
                    // rows of different photos: no two threads write one
                    for (int i = 0; i < b; i++) {
                        st.put(todo[start + i], f, i * total + at);
                    }
                    at += st.width();
                }
            }
            synchronized (this) {
                int d = done.addAndGet(b);
                double el = (System.nanoTime() - t0) / 1e9;
                progress.accept(d / (double) left, el / d * (left - d));
            }
        }
    }

    /** Photos the backbone ran on in this build (the others came from the memo). */
    public int computed() { return computed; }

    /** Why the memo was not updated, or null. */
    public String memoNote() { return memoNote; }

    /** Seconds the first {@code mark} images took (see {@link #build}); NaN when the mark was not reached. */
    public double markSeconds() { return markSeconds; }

    public int rows() { return rows; }

    /** The store of one stage's raw output. */
    public FeatureStore stage(String name) {
        return get(Request.raw(name));
    }

    /** The store of one request. */
    public FeatureStore get(Request r) {
        FeatureStore s = stores.get(r.key());
        if (s == null) {
            throw new IllegalArgumentException("stage '" + r.stage() + "'" + (r.prefix().isEmpty() ? "" : " pooled by "
                    + r.prefix()) + " is not cached");
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
        synchronized (resident) {
            if (residentManager != null) {
                residentManager.close();
                residentManager = null;
            }
            resident.clear();
        }
        stores.values().forEach(FeatureStore::close);
        logits.close();
    }

    /**
     * The first rows of some stores in native memory, made once per run and shared by every training of linear
     * heads on them (the cross-fitting's threads, its rounds and the exits'): the training images' rows when every
     * row asked for is one of them, else all; null where the stores cannot be held ({@link LinearHeads#residentRows}).
     *
     * @param inputs stores of this cache, one per head
     * @param lastRow the largest row a training reads
     */
    LinearHeads.Resident resident(List<FeatureStore> inputs, int lastRow) {
        int count = lastRow < trainRows ? trainRows : rows;
        StringBuilder key = new StringBuilder().append(count);
        for (FeatureStore f : inputs) {
            key.append(',').append(System.identityHashCode(f));
        }
        synchronized (resident) {
            LinearHeads.Resident r = resident.get(key.toString());
            if (r != null && r.inputs().equals(inputs)) {
                return r;
            }
            if (residentManager == null) {
                org.persephonee.core.engine.Engines.pytorch();
                residentManager = ai.djl.ndarray.NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch");
            }
            r = LinearHeads.residentRows(inputs, count, residentManager);
            if (r != null) {
                resident.put(key.toString(), r);
            }
            return r;
        }
    }
}
