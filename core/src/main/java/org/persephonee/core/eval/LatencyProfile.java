package org.persephonee.core.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.engine.CpuAffinity;
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
    private final Map<String, Double> iqrMs = new LinkedHashMap<>();

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
        return h.key();
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

    /** Fewest measured rounds, whatever {@code repeats} asks for (a round through a small backbone is ~2 ms). */
    static final int MIN_ROUNDS = 200;
    /** Warm-up rounds: enough for the JIT to compile the engine's Java call path (tiny heads are mostly that). */
    static final int WARM_ROUNDS = 200;

    /**
     * Measures at batch 1 on this machine, on one thread. Each round runs the whole chain once on a real
     * activation (the previous stage's output), timing every stage, every head on its stage's output and the
     * classifier; the result is the per-block median over the rounds and its interquartile range. Interleaving
     * makes a change of the machine's state (another program, frequency, cache) hit every block alike, so the
     * ratios between blocks (the speed-ups) stay put even when absolute times move: timing each block in its own
     * burst made the same cascade's speed-up move 2-3x between identical runs.
     *
     * @param heads exit heads (and the re-fitted final classifier, if any) to time; may be empty
     * @param repeats measured rounds (at least {@value #MIN_ROUNDS}) after {@value #WARM_ROUNDS} warm-up rounds (or a fifth of them, if more)
     */
    public static LatencyProfile measure(Backbone bb, List<ExitHead> heads, int repeats) {
        int rounds = Math.max(repeats, MIN_ROUNDS);
        int warm = Math.max(WARM_ROUNDS, rounds / 5);
        List<Stage> stages = bb.stages();
        Map<String, List<Integer>> headsAt = new LinkedHashMap<>();
        for (int h = 0; h < heads.size(); h++) {
            headsAt.computeIfAbsent(heads.get(h).stage(), k -> new ArrayList<>()).add(h);
        }
        double[][] st = new double[stages.size()][rounds];
        double[][] ht = new double[heads.size()][rounds];
        double[] ct = new double[rounds];
        int threads = Engines.setThreads(1);
        long[] affinity = CpuAffinity.current();
        String pinned = "";
        try (NDManager m = bb.manager().newSubManager()) {
            ParameterStore ps = new ParameterStore(m, false);
            java.util.Random rnd = new java.util.Random(7);
            float[] x0 = new float[bb.input().size()];
            for (int i = 0; i < x0.length; i++) {
                x0[i] = (float) rnd.nextGaussian();
            }
            Round round = new Round(bb, heads, headsAt, ps, x0);
            for (int r = 0; r < warm; r++) {
                round.run(m, -1, st, ht, ct);
            }
            // time on the CPU that runs the chain fastest, the same one for every block
            List<Integer> cpus = CpuAffinity.allowed();
            if (cpus.size() > MAX_CALIBRATED_CPUS) {
                cpus = cpus.subList(0, MAX_CALIBRATED_CPUS);
            }
            if (cpus.size() > 1) {
                int best = -1;
                double bestMs = Double.MAX_VALUE;
                for (int cpu : cpus) {
                    if (!CpuAffinity.pin(cpu)) {
                        best = -1;
                        break;
                    }
                    double[] t = new double[CALIBRATION_ROUNDS];
                    for (int r = 0; r < CALIBRATION_ROUNDS; r++) {
                        long t0 = System.nanoTime();
                        round.run(m, -1, st, ht, ct);
                        t[r] = (System.nanoTime() - t0) / 1e6;
                    }
                    double med = quantile(t, 0.5);
                    if (med < bestMs) {
                        bestMs = med;
                        best = cpu;
                    }
                }
                if (best >= 0 && CpuAffinity.pin(best)) {
                    pinned = String.format(java.util.Locale.ROOT, ", pinned to CPU %d, the fastest of %d", best,
                            cpus.size());
                } else {
                    CpuAffinity.restore(affinity);
                }
            }
            for (int r = 0; r < rounds; r++) {
                round.run(m, r, st, ht, ct);
            }
        } finally {
            CpuAffinity.restore(affinity);
            Engines.setThreads(threads);
        }
        Map<String, Double> stageMs = new LinkedHashMap<>();
        Map<String, Double> hs = new LinkedHashMap<>();
        LatencyProfile p = new LatencyProfile(String.format(java.util.Locale.ROOT,
                "measured on this machine at batch 1 on one thread%s (median of %d interleaved rounds)", pinned,
                rounds), stageMs, hs, quantile(ct, 0.5));
        for (int s = 0; s < stages.size(); s++) {
            stageMs.put(stages.get(s).name(), quantile(st[s], 0.5));
            p.iqrMs.put(stages.get(s).name(), quantile(st[s], 0.75) - quantile(st[s], 0.25));
        }
        for (int h = 0; h < heads.size(); h++) {
            hs.put(key(heads.get(h)), quantile(ht[h], 0.5));
            p.iqrMs.put(key(heads.get(h)), quantile(ht[h], 0.75) - quantile(ht[h], 0.25));
        }
        p.iqrMs.put(CLASSIFIER, quantile(ct, 0.75) - quantile(ct, 0.25));
        return p;
    }

    /** CPUs tried when choosing the CPU to time on (the first ones the thread may use). */
    static final int MAX_CALIBRATED_CPUS = 8;

    /** Rounds per CPU when choosing the CPU to time on. */
    static final int CALIBRATION_ROUNDS = 60;

    /** One pass through the chain on a real activation, timing every stage, head and the classifier. */
    private record Round(Backbone bb, List<ExitHead> heads, Map<String, List<Integer>> headsAt, ParameterStore ps,
                         float[] x0) {
        /** Runs once; records times at index {@code at} unless it is negative. */
        void run(NDManager m, int at, double[][] st, double[][] ht, double[] ct) {
            List<Stage> stages = bb.stages();
            try (NDManager it = m.newSubManager()) {
                NDArray x = it.create(x0, bb.batchShape(1));
                for (int s = 0; s < stages.size(); s++) {
                    long t0 = System.nanoTime();
                    x = stages.get(s).block().forward(ps, new NDList(x), false).singletonOrThrow();
                    long dt = System.nanoTime() - t0;
                    x.attach(it);
                    if (at >= 0) {
                        st[s][at] = dt / 1e6;
                    }
                    for (int h : headsAt.getOrDefault(stages.get(s).name(), List.of())) {
                        long h0 = System.nanoTime();
                        NDList out = heads.get(h).block().forward(ps, new NDList(x), false);
                        long hd = System.nanoTime() - h0;
                        out.attach(it);
                        if (at >= 0) {
                            ht[h][at] = hd / 1e6;
                        }
                    }
                }
                long c0 = System.nanoTime();
                NDList out = bb.classifier().forward(ps, new NDList(x), false);
                long cd = System.nanoTime() - c0;
                out.attach(it);
                if (at >= 0) {
                    ct[at] = cd / 1e6;
                }
            }
        }
    }

    /** Key of the backbone's classifier in {@link #iqrMs()}. */
    public static final String CLASSIFIER = "classifier";

    /**
     * Interquartile range in milliseconds of every measured block (stage names, head keys and {@value
     * #CLASSIFIER}); empty for a profile that was not measured here.
     */
    public Map<String, Double> iqrMs() { return java.util.Collections.unmodifiableMap(iqrMs); }

    /** The {@code q} quantile (linear interpolation) of the values; {@code v} is sorted in place. */
    static double quantile(double[] v, double q) {
        Arrays.sort(v);
        double pos = q * (v.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(v.length - 1, lo + 1);
        return v[lo] + (pos - lo) * (v[hi] - v[lo]);
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
            throw new IOException(file + ": not valid JSON (" + org.persephonee.core.util.JsonProblems.describe(e) + ")");
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
