package org.persephonee.core.bench;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The sample bench as markdown: the comparison table, the independent check and the ratio tables. */
final class BenchMarkdown {
    private BenchMarkdown() { }

    @SuppressWarnings("unchecked")

    static String of(List<Map<String, Object>> rows, List<Map<String, Object>> ratios, int epochs, boolean quick) {
        StringBuilder sb = new StringBuilder();
        sb.append("| persona | labels | method | accuracy | training (s) | latency (ms) | speed-up |\n");
        sb.append("|---|---|---|---:|---:|---:|---:|\n");
        for (Map<String, Object> r : rows) {
            double t = (double) r.get("training_s");
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %.1f%% | %s | %.2f | %.2fx |%n", r.get("persona"),
                    r.get("labels"), r.get("method"), 100 * (double) r.get("accuracy"),
                    t == 0 ? "–" : String.format(Locale.ROOT, "%.1f", t), (double) r.get("latency_ms"),
                    (double) r.get("speedup")));
        }
        if (ratios.stream().anyMatch(r -> r.containsKey("independent"))) {
            sb.append("\nIndependent check: each exported bundle run image by image (batch 1, measured) on 100 images "
                    + "per class rendered from the reserved Fashion-MNIST test images 8000-9999 with the persona's "
                    + "shift:\n\n| persona | labels | cascade accuracy | personalised final accuracy | cascade ms "
                    + "(median) | final ms (median) | measured speed-up |\n|---|---|---:|---:|---:|---:|---:|\n");
            for (Map<String, Object> r : ratios) {
                Object o = r.get("independent");
                if (o instanceof Map<?, ?> ind) {
                    sb.append(String.format(Locale.ROOT, "| %s | %s | %.1f%% | %.1f%% | %.3f | %.3f | %.2fx |%n",
                            r.get("persona"), r.get("labels"), 100 * (double) ind.get("cascade_accuracy"),
                            100 * (double) ind.get("final_accuracy"), (double) ind.get("cascade_median_ms"),
                            (double) ind.get("final_median_ms"), (double) ind.get("measured_speedup")));
                }
            }
        }
        sb.append("\n| persona | labels | exit-only: test (validation estimate, labelled training images) | vs best "
                + "single head (McNemar p, same test images) | validation s | training cost full / exit-only, with validation |\n"
                + "|---|---|---|---:|---:|---:|\n");
        for (Map<String, Object> r : ratios) {
            if (r.containsKey("failed") || !r.containsKey("best_head_accuracy")) {
                continue;
            }
            Object ve = r.get("validation_estimate");
            String val = ve instanceof Map<?, ?> v ? ((int) v.get("labelled_images") == 0
                    ? String.format(Locale.ROOT, "(no labels; %.2fx)", (double) v.get("speedup"))
                    : String.format(Locale.ROOT, "(%.1f%% at %.2fx, %s labelled)", 100 * (double) v.get("accuracy"),
                    (double) v.get("speedup"), v.get("labelled_images"))) : "(none)";
            Object p = r.get("operating_point_vs_best_head_p");
            String pv = p instanceof Double d ? d < 0.001 ? " (p < 0.001)" : String.format(Locale.ROOT, " (p %.3f)", d) : "";
            sb.append(String.format(Locale.ROOT, "| %s | %s | %.1f%% %s | %+.1f pts%s | %.2f | %.1fx |%n", r.get("persona"),
                    r.get("labels"), 100 * ((double) r.get("best_head_accuracy")
                            + (double) r.get("operating_point_minus_best_head_points") / 100), val,
                    (double) r.get("operating_point_minus_best_head_points"), pv, (double) r.get("validation_s"),
                    (double) r.get("training_cost_full_over_exit_with_validation")));
        }
        sb.append("\n| persona | labels | exit-only training s (BatchNorm + cache + heads) | training cost full / "
                + "exit-only | full FT time to exit-only accuracy | exit-only vs generic | exit-only vs full FT | BatchNorm "
                + "|\n|---|---|---|---:|---|---:|---:|---|\n");
        for (Map<String, Object> r : ratios) {
            if (r.containsKey("failed")) {
                sb.append(String.format(Locale.ROOT, "| %s | %s | – | – | – | – | – | cannot personalise: %s |%n",
                        r.get("persona"), r.get("labels"), r.get("failed")));
                continue;
            }
            Map<String, Object> parts = (Map<String, Object>) r.get("exit_only_seconds");
            double bnS = (double) parts.get("batchnorm");
            double cacheS = (double) parts.get("feature_cache");
            double headS = (double) parts.get("head_training");
            Object reach = r.get("full_ft_seconds_to_exit_accuracy");
            String reachText = reach == null ? "not reached in " + epochs + " epochs"
                    : String.format(Locale.ROOT, "%.1f s (%.1fx)", (double) reach,
                    (double) r.get("training_cost_at_equal_accuracy"));
            sb.append(String.format(Locale.ROOT, "| %s | %s | %.2f (%.2f + %.2f + %.2f) | %.1fx | %s | %+.1f pts | %+.1f pts "
                            + "| %s |%n", r.get("persona"), r.get("labels"), bnS + cacheS + headS, bnS, cacheS, headS,
                    (double) r.get("training_cost_full_over_exit"), reachText,
                    (double) r.get("accuracy_gain_over_generic_points"), (double) r.get("exit_minus_full_points"),
                    r.get("batchnorm")));
        }
        sb.append(String.format(Locale.ROOT, "%n%d epochs for both methods%s; training times are medians of repeated "
                + "runs after an untimed warm-up; \"full FT time to exit-only accuracy\" is measured after every epoch "
                + "on the test images, so it favours full fine-tuning (it stops at its best epoch as if it knew).%n",
                epochs, quick ? " (quick run)" : ""));
        return sb.toString();
    }
}
