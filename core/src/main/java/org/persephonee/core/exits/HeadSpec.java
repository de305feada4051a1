package org.persephonee.core.exits;

import org.persephonee.core.backbone.LayerSpec;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * An exit head's design: its type and hyper-parameters. The layers depend on the stage's output shape
 * and the number of personal classes, so they are made by {@link #layers(long[], int)}.
 *
 * @param type non-null head type
 * @param channels conv channels of a CONV head, cells per side of a GRID head (ignored otherwise)
 * @param convLayers 1 or 2 conv blocks of a CONV head (ignored otherwise)
 * @param hidden hidden units of an MLP head (ignored otherwise)
 */
public record HeadSpec(HeadType type, int channels, int convLayers, int hidden) {

    public HeadSpec {
        Objects.requireNonNull(type, "type");
        if (type == HeadType.CONV && (channels < 1 || convLayers < 1 || convLayers > 2)) {
            throw new IllegalArgumentException("a conv head needs channels >= 1 and 1 or 2 conv layers");
        }
        if (type == HeadType.GRID && (channels < 1 || channels > 16)) {
            throw new IllegalArgumentException("a grid head needs 1 to 16 cells per side");
        }
        if (type == HeadType.MLP && hidden < 1) {
            throw new IllegalArgumentException("an MLP head needs hidden >= 1");
        }
    }

    /** Default cells per side of a GRID head's pooling grid. */
    public static final int GRID_CELLS = 4;

    /** Default hyper-parameters for a type: conv 32 channels x 1 layer, MLP 64 hidden units, grid 4x4 cells. */
    public static HeadSpec of(HeadType type) {
        return new HeadSpec(type, type == HeadType.GRID ? GRID_CELLS : 32, 1, 64);
    }

    /** A GRID head pooling to {@code cells x cells} (fewer when the stage output is smaller). */
    public static HeadSpec grid(int cells) {
        return new HeadSpec(HeadType.GRID, cells, 1, 64);
    }

    /** This type with the other hyper-parameters kept from {@code previous}. */
    public HeadSpec withDefaultsFrom(HeadSpec previous) {
        if (type == HeadType.GRID || previous.type() == HeadType.GRID) {
            // a grid head's cells and a conv head's channels share a field: do not carry one into the other
            return type == previous.type() ? previous : of(type);
        }
        return new HeadSpec(type, previous.channels(), previous.convLayers(), previous.hidden());
    }

    /** Parses {@code linear}, {@code conv}, {@code conv32}, {@code conv32x2}, {@code mlp}, {@code mlp128}, {@code grid}, {@code grid2}. */
    public static HeadSpec parse(String s) {
        String t = s.strip().toLowerCase(java.util.Locale.ROOT);
        try {
            if (t.startsWith("conv")) {
                String rest = t.substring(4);
                int ch = 32;
                int layers = 1;
                if (!rest.isEmpty()) {
                    String[] p = rest.split("x");
                    ch = Integer.parseInt(p[0]);
                    layers = p.length > 1 ? Integer.parseInt(p[1]) : 1;
                }
                return new HeadSpec(HeadType.CONV, ch, layers, 64);
            }
            if (t.startsWith("grid")) {
                String rest = t.substring(4);
                return grid(rest.isEmpty() ? GRID_CELLS : Integer.parseInt(rest));
            }
            if (t.startsWith("mlp")) {
                String rest = t.substring(3);
                return new HeadSpec(HeadType.MLP, 32, 1, rest.isEmpty() ? 64 : Integer.parseInt(rest));
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad head '" + s + "' (examples: linear, conv, conv32x2, mlp128, grid)");
        }
        return of(HeadType.parse(t));
    }

    /** Compact id such as {@code conv32x1}, {@code mlp64}, {@code linear}, {@code grid}. */
    public String id() {
        return switch (type) {
            case LINEAR -> "linear";
            case CONV -> "conv" + channels + "x" + convLayers;
            case MLP -> "mlp" + hidden;
            case GRID -> channels == GRID_CELLS ? "grid" : "grid" + channels;
        };
    }

    /**
     * The head's layers for a stage output.
     *
     * @param in stage output shape (C, H, W)
     * @param classes number of personal classes
     */
    public List<LayerSpec> layers(long[] in, int classes) {
        List<LayerSpec> l = new ArrayList<>();
        switch (type) {
            case CONV -> {
                long h = in[1];
                for (int i = 0; i < convLayers; i++) {
                    int stride = h >= 4 ? 2 : 1;
                    l.add(LayerSpec.conv(channels, 3, stride, 1));
                    l.add(LayerSpec.bn());
                    l.add(LayerSpec.relu());
                    h = (h + 2 - 3) / stride + 1;
                }
                l.add(LayerSpec.gap());
                l.add(LayerSpec.flatten());
            }
            case MLP -> {
                l.add(LayerSpec.gap());
                l.add(LayerSpec.flatten());
                l.add(LayerSpec.linear(hidden));
                l.add(LayerSpec.relu());
            }
            case GRID -> {
                // an average pool whose windows tile the map into g x g cells (overlapping when it does not divide)
                long h = Math.min(in[1], in[2]);
                int g = (int) Math.min(channels, h);
                int stride = (int) (h / g);
                int kernel = (int) (h - (long) (g - 1) * stride);
                if (kernel > 1 || stride > 1) {
                    l.add(LayerSpec.avgPool(kernel, stride));
                }
                l.add(LayerSpec.flatten());
            }
            default -> {
                l.add(LayerSpec.gap());
                l.add(LayerSpec.flatten());
            }
        }
        l.add(LayerSpec.linear(classes));
        return l;
    }

    @Override
    public String toString() { return id(); }
}
