package org.persephonee.core.backbone;

import com.google.gson.annotations.SerializedName;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The stage table of a backbone as text, markdown or JSON-ready maps. */
public final class StageTable {
    private StageTable() { }

    /** Formats a shape such as {@code 16x28x28}. */
    public static String shape(long[] s) {
        StringBuilder sb = new StringBuilder();
        for (long d : s) {
            sb.append(sb.length() == 0 ? "" : "x").append(d);
        }
        return sb.toString();
    }

    /** Human-readable count such as {@code 1.23M} or {@code 45.6K}. */
    public static String count(long n) {
        if (n >= 1_000_000) {
            return String.format(Locale.ROOT, "%.2fM", n / 1e6);
        }
        if (n >= 1_000) {
            return String.format(Locale.ROOT, "%.1fK", n / 1e3);
        }
        return Long.toString(n);
    }

    /** Plain-text table for a terminal. */
    public static String text(Backbone bb) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%s  (%s)  input %s  %d classes%n", bb.name(), bb.id(),
                shape(bb.input().shape()), bb.classNames().size()));
        sb.append(String.format(Locale.ROOT, "format: %s; images: %s%n", bb.format(), bb.input().resize()
                == InputSpec.Resize.CENTER_CROP ? "shorter side to " + bb.input().resizeTo() + ", centre crop"
                : "fitted whole, padded with the border colour"));
        int w = Math.max(8, bb.stages().stream().mapToInt(s -> s.name().length()).max().orElse(8));
        String head = "%3s  %-" + w + "s %-12s %10s %12s %9s%n";
        String row = "%3d  %-" + w + "s %-12s %10s %12s %9s%n";
        sb.append(String.format(Locale.ROOT, head, "#", "stage", "output", "MACs", "cum. MACs", "params"));
        for (Stage s : bb.stages()) {
            sb.append(String.format(Locale.ROOT, row, s.index(), s.name(),
                    shape(s.outputShape()), count(s.macs()), count(s.cumulativeMacs()), count(s.params())));
        }
        sb.append(String.format(Locale.ROOT, head, "", "classify",
                bb.classNames().size(), count(bb.classifierMacs()), count(bb.totalMacs()),
                count(bb.classifierParams())));
        sb.append(String.format(Locale.ROOT, "total: %s MACs, %s parameters%n", count(bb.totalMacs()),
                count(bb.totalParams())));
        return sb.toString();
    }

    /** Markdown table (exact numbers). */
    public static String markdown(Backbone bb) {
        StringBuilder sb = new StringBuilder();
        sb.append("| # | stage | layers | output | MACs | cumulative MACs | params |\n");
        sb.append("|---|---|---|---|---:|---:|---:|\n");
        for (Stage s : bb.stages()) {
            sb.append(String.format(Locale.ROOT, "| %d | %s | `%s` | %s | %,d | %,d | %,d |%n", s.index(), s.name(),
                    s.description(), shape(s.outputShape()), s.macs(), s.cumulativeMacs(), s.params()));
        }
        sb.append(String.format(Locale.ROOT, "| | classifier | `%s` | %d | %,d | %,d | %,d |%n",
                bb.classifierDescription(), bb.classNames().size(), bb.classifierMacs(), bb.totalMacs(),
                bb.classifierParams()));
        return sb.toString();
    }

    private static String describe(List<LayerSpec> layers) {
        StringBuilder sb = new StringBuilder();
        for (LayerSpec l : layers) {
            sb.append(sb.length() == 0 ? "" : " ").append(l.describe());
        }
        return sb.toString();
    }

    /** One stage as {@code inspect --json} lists it. */
    public record Row(int index, String name, String layers, @SerializedName("input_shape") long[] inputShape,
                      @SerializedName("output_shape") long[] outputShape, long macs,
                      @SerializedName("cumulative_macs") long cumulativeMacs, long params) { }

    /** JSON-ready rows, one per stage. */
    public static List<Row> rows(Backbone bb) {
        List<Row> rows = new ArrayList<>();
        for (Stage s : bb.stages()) {
            rows.add(new Row(s.index(), s.name(), s.description(), s.inputShape().clone(), s.outputShape().clone(),
                    s.macs(), s.cumulativeMacs(), s.params()));
        }
        return rows;
    }
}
