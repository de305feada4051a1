package org.persephonee.core.backbone;

import java.util.List;

/** Tiny backbones for fast tests. */
public final class TinyBackbones {
    private TinyBackbones() { }

    /** 1x12x12 input, three stages, 3 classes. */
    public static BackboneSpec spec(String id) {
        BackboneSpec spec = new BackboneSpec();
        spec.id = id;
        spec.input = BackboneSpec.Input.of(new InputSpec(1, 12, 12, new float[] {0.5f}, new float[] {0.25f}));
        spec.classes = new java.util.ArrayList<>(List.of("Cat", "Dog", "Ankle boot"));
        spec.stages.add(new StageSpec("stem", List.of(LayerSpec.conv(4, 3, 1, 1), LayerSpec.bn(), LayerSpec.relu())));
        spec.stages.add(new StageSpec("block1", List.of(LayerSpec.residual(
                List.of(LayerSpec.conv(8, 3, 2, 1), LayerSpec.bn(), LayerSpec.relu(), LayerSpec.conv(8, 3, 1, 1),
                        LayerSpec.bn()),
                List.of(LayerSpec.conv(8, 1, 2, 0), LayerSpec.bn())), LayerSpec.relu())));
        spec.stages.add(new StageSpec("block2", List.of(LayerSpec.residual(
                List.of(LayerSpec.conv(8, 3, 1, 1), LayerSpec.bn()), List.of()), LayerSpec.relu())));
        spec.classifier.add(LayerSpec.gap());
        spec.classifier.add(LayerSpec.flatten());
        spec.classifier.add(LayerSpec.linear(3));
        return spec;
    }

    /** A tiny backbone with random (seeded) weights. */
    public static Backbone random(String id, long seed) {
        org.persephonee.core.engine.Engines.seed(seed);
        Backbone bb = Backbone.fromSpec(spec(id));
        bb.initialize();
        return bb;
    }
}
