package org.persephonee.core.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.engine.Engines;
import org.persephonee.core.backbone.Stage;
import org.persephonee.core.exits.ExitHead;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Milliseconds per stage and per exit head at batch 1: measured here (warm-up, then the median of
 * repeats) or imported from a device profile JSON (for example measured on a phone) for what-if curves.
 *
 * <p>Device profile format: {@code {"device": "Pixel 4", "stages": {"stem": 0.12, ...},
 * "heads": {"block3:conv32x1": 0.05, ...}, "classifier": 0.01}}. Heads missing from a profile are
 * estimated from their MACs at the profile's average milliseconds per stage MAC, and flagged.
 */
public final class LatencyProfile {
    private final String source;
    private final Map<String, Double> stageMs;
    private final Map<String, Double> headMs;
    private final double classifierMs;
    private final List<String> estimated = new ArrayList<>();

    private LatencyProfile(String source, Map<String, Double> stageMs, Map<String, Double> headMs,
                           double classifierMs) {
        this.source = source;
        this.stageMs = stageMs;
        this.headMs = headMs;
        this.classifierMs = classifierMs;
    }

    /** Where the numbers come from ("measured on this machine, ..." or the device name). */
    public String source() { return source; }

    public Map<String, Double> stageMs() { return java.util.Collections.unmodifiableMap(stageMs); }

    public Map<String, Double> headMs() { return java.util.Collections.unmodifiableMap(headMs); }

    public double classifierMs() { return classifierMs; }

    /** Head keys whose time was estimated from MACs rather than measured. */
    public List<String> estimated() { return List.copyOf(estimated); }

    /** Key of a head in a profile: {@code stage:headId}. */
    public static String key(ExitHead h) {
        return h.stage() + ":" + h.head().id();
    }

    /** Milliseconds of all stages up to and including {@code stage}. */
    public double cumulativeMs(Backbone bb, String stage) {
        double sum = 0;
        for (Stage s : bb.stages()) {
            sum += stageMs.getOrDefault(s.name(), 0.0);
            if (s.name().equals(stage)) {
                break;
            }
        }
        return sum;
    }

    /** Milliseconds of the whole backbone (stages only). */
    public double backboneMs() {
        return stageMs.values().stream().mapToDouble(Double::doubleValue).sum();
    }

    /** Milliseconds of a head, or NaN when unknown. */
    public double headMs(ExitHead h) {
        return headMs.getOrDefault(key(h), Double.NaN);
    }

    /**
     * Measures at batch 1 on this machine.
     *
     * @param heads exit heads (and the re-fitted final classifier, if any) to time; may be empty
     * @param repeats timed runs per block after {@code repeats / 5 + 3} warm-up runs
     */
    public static LatencyProfile measure(Backbone bb, List<ExitHead> heads, int repeats) {
        Map<String, Double> stages = new LinkedHashMap<>();
        Map<String, Double> hs = new LinkedHashMap<>();
        double cls;
        int threads = Engines.setThreads(1);
        try (NDManager m = bb.manager().newSubManager()) {
            for (Stage s : bb.stages()) {
                stages.put(s.name(), time(s.block(), m, shape(s.inputShape()), repeats));
            }
            Stage last = bb.stages().get(bb.stages().size() - 1);
            cls = time(bb.classifier(), m, shape(last.outputShape()), repeats);
            for (ExitHead h : heads) {
                try (NDManager hm = h.model().getNDManager().newSubManager()) {
                    hs.put(key(h), time(h.block(), hm, h.batchShape(1), repeats));
                }
            }
        } finally {
            Engines.setThreads(threads);
        }
        return new LatencyProfile(String.format(java.util.Locale.ROOT,
                "measured on this machine at batch 1 on one thread (median of %d runs)", repeats), stages, hs, cls);
    }

    /** A profile from stored numbers (for example a saved run). */
    public static LatencyProfile of(String source, Map<String, Double> stageMs, Map<String, Double> headMs,
                                    double classifierMs) {
        return new LatencyProfile(source, new LinkedHashMap<>(stageMs), new LinkedHashMap<>(headMs), classifierMs);
    }

    /** Measures the backbone's stages and classifier only (heads are added later). */
    public static LatencyProfile measureStages(Backbone bb, int repeats) {
        return measure(bb, List.of(), repeats);
    }

    /** Adds measurements for heads not in this profile (for example after new exits were trained). */
    public LatencyProfile withHeads(List<ExitHead> heads, int repeats) {
        Map<String, Double> hs = new LinkedHashMap<>(headMs);
        int threads = Engines.setThreads(1);
        try {
            for (ExitHead h : heads) {
                if (!hs.containsKey(key(h))) {
                    try (NDManager hm = h.model().getNDManager().newSubManager()) {
                        hs.put(key(h), time(h.block(), hm, h.batchShape(1), repeats));
                    }
                }
            }
        } finally {
            Engines.setThreads(threads);
        }
        LatencyProfile p = new LatencyProfile(source, stageMs, hs, classifierMs);
        p.estimated.addAll(estimated);
        return p;
    }

    private static Shape shape(long[] chw) {
        long[] s = new long[chw.length + 1];
        s[0] = 1;
        System.arraycopy(chw, 0, s, 1, chw.length);
        return new Shape(s);
    }

    private static double time(Block block, NDManager m, Shape shape, int repeats) {
        double[] t = new double[repeats];
        int warm = repeats / 5 + 3;
        try (NDManager sub = m.newSubManager()) {
            NDArray x = sub.randomNormal(shape);
            ParameterStore ps = new ParameterStore(sub, false);
            for (int i = 0; i < warm + repeats; i++) {
                try (NDManager it = sub.newSubManager()) {
                    NDArray xi = x.duplicate();
                    xi.attach(it);
                    long t0 = System.nanoTime();
                    NDList out = block.forward(ps, new NDList(xi), false);
                    out.singletonOrThrow().toFloatArray(); // force completion
                    long dt = System.nanoTime() - t0;
                    out.attach(it);
                    if (i >= warm) {
                        t[i - warm] = dt / 1e6;
                    }
                }
            }
        }
        Arrays.sort(t);
        return t.length % 2 == 1 ? t[t.length / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
    }

    /**
     * Reads a device profile.
     *
     * @param heads heads whose time is needed; missing ones are estimated from MACs
     * @throws IOException naming the file and the problem (missing stage, bad number, bad JSON)
     */
    public static LatencyProfile load(Path file, Backbone bb, List<ExitHead> heads) throws IOException {
        JsonObject o;
        try {
            JsonElement e = JsonParser.parseString(Files.readString(file));
            if (!e.isJsonObject()) {
                throw new IOException(file + ": a device profile must be a JSON object");
            }
            o = e.getAsJsonObject();
        } catch (com.google.gson.JsonParseException e) {
            throw new IOException(file + ": not valid JSON (" + e.getMessage() + ")");
        }
        if (!o.has("stages") || !o.get("stages").isJsonObject()) {
            throw new IOException(file + ": needs a 'stages' object with milliseconds per stage");
        }
        JsonObject st = o.getAsJsonObject("stages");
        Map<String, Double> stages = new LinkedHashMap<>();
        double stageMacs = 0;
        double stageTotal = 0;
        for (Stage s : bb.stages()) {
            if (!st.has(s.name())) {
                throw new IOException(file + ": no time for stage '" + s.name() + "'");
            }
            double v = number(file, st.get(s.name()), "stages." + s.name());
            stages.put(s.name(), v);
            stageMacs += s.macs();
            stageTotal += v;
        }
        double msPerMac = stageMacs > 0 ? stageTotal / stageMacs : 0;
        double cls = o.has("classifier") ? number(file, o.get("classifier"), "classifier")
                : bb.classifierMacs() * msPerMac;
        Map<String, Double> hs = new LinkedHashMap<>();
        List<String> est = new ArrayList<>();
        JsonObject ho = o.has("heads") && o.get("heads").isJsonObject() ? o.getAsJsonObject("heads") : new JsonObject();
        for (ExitHead h : heads) {
            String k = key(h);
            if (ho.has(k)) {
                hs.put(k, number(file, ho.get(k), "heads." + k));
            } else {
                hs.put(k, h.macs() * msPerMac);
                est.add(k);
            }
        }
        String device = o.has("device") && o.get("device").isJsonPrimitive() ? o.get("device").getAsString()
                : file.getFileName().toString();
        LatencyProfile p = new LatencyProfile("device profile: " + device, stages, hs, cls);
        p.estimated.addAll(est);
        return p;
    }

    private static double number(Path file, JsonElement e, String field) throws IOException {
        try {
            double v = e.getAsDouble();
            if (!(v >= 0) || Double.isInfinite(v)) {
                throw new NumberFormatException();
            }
            return v;
        } catch (RuntimeException ex) {
            throw new IOException(file + ": '" + field + "' must be a non-negative number of milliseconds");
        }
    }

    /** The profile as JSON-ready maps (the device profile format). */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("device", source);
        m.put("stages", stageMs);
        m.put("heads", headMs);
        m.put("classifier", classifierMs);
        if (!estimated.isEmpty()) {
            m.put("estimated_heads", estimated);
        }
        return m;
    }
}
