package org.persephonee.core.exits;

import java.util.Locale;

/** Kinds of early-exit classifier head. */
public enum HeadType {
    /** Global average pooling then one linear layer (SDN "IC-only" style; cheapest). */
    LINEAR("Pool + linear"),
    /** 1-2 x [3x3 conv stride 2 + BatchNorm + ReLU], pool, linear (MSDNet / HAPI style). */
    CONV("Conv head"),
    /** Global average pooling, a hidden linear layer with ReLU, then linear. */
    MLP("Small MLP"),
    /**
     * Average pooling to a coarse grid ({@link HeadSpec#GRID_CELLS} x {@link HeadSpec#GRID_CELLS} cells by
     * default), then one linear layer: keeps where in the image a feature fires, which global pooling loses.
     */
    GRID("Grid + linear");

    private final String display;

    HeadType(String display) { this.display = display; }

    /** Name shown in the UI. */
    public String display() { return display; }

    /** Parses {@code linear}, {@code conv}, {@code mlp} or {@code grid}, case-insensitive. */
    public static HeadType parse(String s) {
        try {
            return valueOf(s.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown head type '" + s + "' (expected linear, conv, mlp or grid)");
        }
    }

    public String id() { return name().toLowerCase(Locale.ROOT); }
}
