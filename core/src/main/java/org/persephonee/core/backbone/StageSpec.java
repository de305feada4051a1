package org.persephonee.core.backbone;

import java.util.ArrayList;
import java.util.List;

/** A named stage of a backbone: a point after which an exit may attach. */
public final class StageSpec {
    private final String name;
    private final List<LayerSpec> layers;

    /**
     * Creates a stage.
     *
     * @param name non-null, unique within its backbone
     * @param layers non-null, non-empty
     */
    public StageSpec(String name, List<LayerSpec> layers) {
        this.name = name;
        this.layers = layers == null ? null : new ArrayList<>(layers);
    }

    public String name() { return name; }

    public List<LayerSpec> layers() { return List.copyOf(layers); }

    /** Validates the stage, naming it in any error. */
    public void validate(int index) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("stage " + index + " has no name");
        }
        if (layers == null || layers.isEmpty()) {
            throw new IllegalArgumentException("stage '" + name + "' has no layers");
        }
        LayerValidation.validateAll(layers, "stage '" + name + "' layer");
    }

    /** A compact description such as {@code res[conv3x3(16) bn relu conv3x3(16) bn + id] relu}. */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        for (LayerSpec l : layers) {
            sb.append(sb.length() == 0 ? "" : " ").append(l.describe());
        }
        return sb.toString();
    }
}
