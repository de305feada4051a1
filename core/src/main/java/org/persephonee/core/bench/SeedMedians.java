package org.persephonee.core.bench;

import org.persephonee.core.util.Vectors;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The sample bench run at several seeds, summed up per persona and label regime as medians over the seeds: the
 * operating point, its gap to the best single head on the test photos (per seed, then the median), full fine-tuning
 * and the independent check on the reserved render. A row moves by a point or more with the seed alone (night-owl
 * with every photo labelled: 90.2 % at seed 42, 89.5 % at seed 7), so a gap that holds at the median is the method's,
 * and one that shows at one seed may be the seed's.
 */
public final class SeedMedians {
    private SeedMedians() { }

    /**
     * One persona and regime over the seeds.
     *
     * @param persona the persona
     * @param labels the regime as the bench labels its rows ("100% (100%)")
     * @param seeds the seeds, in the order run
     * @param operatingPoint exit-only operating point's test accuracy per seed
     * @param speedup its speed-up per seed
     * @param bestHead the best single head's test accuracy per seed
     * @param fullFineTuning full fine-tuning's test accuracy per seed
     * @param reserved the operating point's accuracy on the reserved render per seed (empty when not run)
     */
    public record Row(String persona, String labels, List<Long> seeds, double[] operatingPoint, double[] speedup,
                      double[] bestHead, double[] fullFineTuning, double[] reserved) {
        /** The operating point minus the best single head, points, per seed. */
        public double[] gapPoints() {
            double[] g = new double[operatingPoint.length];
            for (int i = 0; i < g.length; i++) {
                g[i] = 100 * (operatingPoint[i] - bestHead[i]);
            }
            return g;
        }
    }

    /**
     * The rows of several benches, one per seed, matched by persona and regime (a row some seed lacks, say a run that
     * could not personalise, is left out of that regime's medians).
     *
     * @param bySeed each seed's bench JSON ({@link SampleBench.Result#json()}), in the order run
     */
    @SuppressWarnings("unchecked")
    public static List<Row> of(Map<Long, Map<String, Object>> bySeed) {
        Map<String, List<Map<String, Object>>> perKey = new LinkedHashMap<>();
        Map<String, List<Long>> seedsOf = new LinkedHashMap<>();
        for (Map.Entry<Long, Map<String, Object>> e : bySeed.entrySet()) {
            List<Map<String, Object>> rows = (List<Map<String, Object>>) e.getValue().get("rows");
            List<Map<String, Object>> ratios = (List<Map<String, Object>>) e.getValue().get("ratios");
            for (Map<String, Object> ratio : ratios) {
                if (ratio.containsKey("failed")) {
                    continue;
                }
                String persona = (String) ratio.get("persona");
                String labels = (String) ratio.get("labels");
                Map<String, Object> one = new LinkedHashMap<>();
                for (Map<String, Object> r : rows) {
                    if (persona.equals(r.get("persona")) && labels.equals(r.get("labels"))) {
                        String m = (String) r.get("method");
                        if (m.startsWith("exit-only")) {
                            one.put("op", r.get("accuracy"));
                            one.put("speedup", r.get("speedup"));
                        } else if (m.equals("full fine-tuning")) {
                            one.put("ft", r.get("accuracy"));
                        }
                    }
                }
                one.put("best", ratio.get("best_head_accuracy"));
                Object independent = ratio.get("independent");
                if (independent instanceof Map<?, ?> ind) {
                    one.put("reserved", ind.get("cascade_accuracy"));
                }
                String key = persona + "\u0000" + labels;
                perKey.computeIfAbsent(key, k -> new ArrayList<>()).add(one);
                seedsOf.computeIfAbsent(key, k -> new ArrayList<>()).add(e.getKey());
            }
        }
        List<Row> out = new ArrayList<>();
        for (Map.Entry<String, List<Map<String, Object>>> e : perKey.entrySet()) {
            String[] k = e.getKey().split("\u0000");
            List<Map<String, Object>> runs = e.getValue();
            boolean reserved = runs.stream().allMatch(r -> r.get("reserved") != null);
            out.add(new Row(k[0], k[1], seedsOf.get(e.getKey()), column(runs, "op"), column(runs, "speedup"),
                    column(runs, "best"), column(runs, "ft"), reserved ? column(runs, "reserved") : new double[0]));
        }
        return out;
    }

    private static double[] column(List<Map<String, Object>> runs, String key) {
        return runs.stream().mapToDouble(r -> ((Number) r.get(key)).doubleValue()).toArray();
    }

    /** The median of a few values (the mean of the middle two of an even count). */
    static double median(double[] v) {
        return Vectors.median(v);
    }

    /** JSON-ready maps of the rows: each seed's figures and their medians. */
    public static List<Map<String, Object>> json(List<Row> rows) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Row r : rows) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("persona", r.persona());
            m.put("labels", r.labels());
            m.put("seeds", r.seeds());
            m.put("operating_point", r.operatingPoint());
            m.put("speedup", r.speedup());
            m.put("best_head", r.bestHead());
            m.put("gap_points", r.gapPoints());
            m.put("full_fine_tuning", r.fullFineTuning());
            m.put("reserved", r.reserved());
            m.put("median_operating_point", median(r.operatingPoint()));
            m.put("median_speedup", median(r.speedup()));
            m.put("median_best_head", median(r.bestHead()));
            m.put("median_gap_points", median(r.gapPoints()));
            m.put("median_full_fine_tuning", median(r.fullFineTuning()));
            if (r.reserved().length > 0) {
                m.put("median_reserved", median(r.reserved()));
            }
            out.add(m);
        }
        return out;
    }

    /** The table: medians, and each seed's gap to the best head. */
    public static String markdown(List<Row> rows, double maxDropPoints) {
        StringBuilder sb = new StringBuilder();
        sb.append("| persona | labels | seeds | exit-only operating point | speed-up | best single head | operating point "
                + "minus best head, per seed | median gap | full fine-tuning | reserved render (operating point) |\n");
        sb.append("|---|---|---|---:|---:|---:|---|---:|---:|---:|\n");
        int within = 0;
        for (Row r : rows) {
            double[] gaps = r.gapPoints();
            double gap = median(gaps);
            if (gap >= -maxDropPoints - 1e-9) {
                within++;
            }
            StringBuilder per = new StringBuilder();
            for (int i = 0; i < gaps.length; i++) {
                per.append(i == 0 ? "" : " / ").append(String.format(Locale.ROOT, "%+.1f", gaps[i]));
            }
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %.1f%% | %.2fx | %.1f%% | %s | %+.1f | %.1f%% | %s |%n",
                    r.persona(), r.labels(), r.seeds().stream().map(String::valueOf).reduce((a, b) -> a + ", " + b)
                            .orElse(""), 100 * median(r.operatingPoint()), median(r.speedup()),
                    100 * median(r.bestHead()), per, gap, 100 * median(r.fullFineTuning()),
                    r.reserved().length == 0 ? "–" : String.format(Locale.ROOT, "%.1f%%", 100 * median(r.reserved()))));
        }
        sb.append(String.format(Locale.ROOT, "%nMedians over the seeds. The operating point is within %.0f point(s) of the "
                + "best single head at the median in %d of %d rows.%n", maxDropPoints, within, rows.size()));
        return sb.toString();
    }
}
