package org.persephonee.core.backbone;

import java.util.ArrayList;
import java.util.List;

/** Architectures of the sample backbones shipped in {@code sample-models/}. */
public final class SampleBackbones {
    /** Fashion-MNIST class names, in label order. */
    public static final List<String> FASHION_MNIST_CLASSES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress",
            "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    /** Mean and standard deviation of Fashion-MNIST training pixels in [0, 1]. */
    public static final float FMNIST_MEAN = 0.2860f;
    public static final float FMNIST_STD = 0.3530f;

    private SampleBackbones() { }

    /**
     * A ResNet-style CNN for 28x28 grayscale images: a 3x3 stem then basic residual blocks, one stage each.
     *
     * @param id backbone id
     * @param stem stem width
     * @param widths width of each residual block; a width change halves the spatial size (stride 2)
     */
    public static BackboneSpec resnet(String id, int stem, int[] widths) {
        BackboneSpec spec = new BackboneSpec();
        spec.id = id;
        spec.name = id;
        spec.input = BackboneSpec.Input.of(new InputSpec(1, 28, 28, new float[] {FMNIST_MEAN},
                new float[] {FMNIST_STD}));
        spec.classes = new ArrayList<>(FASHION_MNIST_CLASSES);
        spec.stages.add(new StageSpec("stem", List.of(LayerSpec.conv(stem, 3, 1, 1), LayerSpec.bn(), LayerSpec.relu())));
        int in = stem;
        for (int i = 0; i < widths.length; i++) {
            int w = widths[i];
            int stride = w != in ? 2 : 1;
            List<LayerSpec> body = List.of(LayerSpec.conv(w, 3, stride, 1), LayerSpec.bn(), LayerSpec.relu(),
                    LayerSpec.conv(w, 3, 1, 1), LayerSpec.bn());
            List<LayerSpec> shortcut = stride == 1 ? List.of()
                    : List.of(LayerSpec.conv(w, 1, stride, 0), LayerSpec.bn());
            spec.stages.add(new StageSpec("block" + (i + 1),
                    List.of(LayerSpec.residual(body, shortcut), LayerSpec.relu())));
            in = w;
        }
        spec.classifier.add(LayerSpec.gap());
        spec.classifier.add(LayerSpec.flatten());
        spec.classifier.add(LayerSpec.linear(FASHION_MNIST_CLASSES.size()));
        spec.validate();
        return spec;
    }
}
