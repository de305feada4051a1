package org.persephonee.core.backbone;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.training.ParameterStore;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A pretrained CNN split into ordered named stages, each a point where an early exit may attach,
 * followed by a final classifier.
 *
 * <p>Owns a DJL {@link Model} (and so native memory): close it. Forward passes run in inference mode
 * unless asked otherwise, so BatchNorm running statistics stay as shipped.
 */
public final class Backbone implements AutoCloseable {
    private final BackboneSpec spec;
    private final InputSpec input;
    private final List<Stage> stages;
    private final Block classifier;
    private final long classifierMacs;
    private final long classifierParams;
    private final SequentialBlock network;
    private final Model model;
    private Path directory;

    private Backbone(BackboneSpec spec) {
        spec.validate();
        this.spec = spec;
        this.input = spec.input.toInputSpec();
        this.network = new SequentialBlock();
        List<Stage> list = new ArrayList<>();
        long[] shape = input.shape();
        long cumulative = 0;
        for (int i = 0; i < spec.stages.size(); i++) {
            StageSpec s = spec.stages.get(i);
            List<LayerSpec> layers = s.layers();
            SequentialBlock block = LayerSpec.sequence(layers);
            long[] out = LayerSpec.chainShape(layers, shape);
            long macs = LayerSpec.chainMacs(layers, shape);
            cumulative += macs;
            list.add(new Stage(i, s.name(), block, shape, out, macs, cumulative,
                    LayerSpec.chainParams(layers, shape), s.describe()));
            network.add(block);
            shape = out;
        }
        this.stages = Collections.unmodifiableList(list);
        this.classifier = LayerSpec.sequence(spec.classifier);
        this.classifierMacs = LayerSpec.chainMacs(spec.classifier, shape);
        this.classifierParams = LayerSpec.chainParams(spec.classifier, shape);
        network.add(classifier);
        this.model = Model.newInstance(spec.id, Device.cpu(), "PyTorch");
        model.setBlock(network);
    }

    /**
     * Builds an untrained backbone from a spec; parameters are not initialised yet
     * (a trainer initialises them, {@link #initialize()} does so explicitly).
     *
     * @param spec non-null, validated here
     * @throws IllegalArgumentException if the spec is inconsistent
     */
    public static Backbone fromSpec(BackboneSpec spec) {
        return new Backbone(spec);
    }

    /** Initialises parameters with the block's default initialisers (used before loading weights). */
    public void initialize() {
        network.initialize(model.getNDManager(), DataType.FLOAT32, batchShape(1));
    }

    public BackboneSpec spec() { return spec; }

    public String id() { return spec.id; }

    public String name() { return spec.name == null ? spec.id : spec.name; }

    public InputSpec input() { return input; }

    public List<Stage> stages() { return stages; }

    /** Finds a stage by name, or returns null. */
    public Stage stage(String name) {
        for (Stage s : stages) {
            if (s.name().equals(name)) {
                return s;
            }
        }
        return null;
    }

    public List<String> classNames() { return Collections.unmodifiableList(spec.classes); }

    public Block classifier() { return classifier; }

    public long classifierMacs() { return classifierMacs; }

    public long classifierParams() { return classifierParams; }

    /** MACs of a full forward pass (all stages and the classifier) for one example. */
    public long totalMacs() { return stages.get(stages.size() - 1).cumulativeMacs() + classifierMacs; }

    /** Trainable parameters of the whole network. */
    public long totalParams() {
        return stages.stream().mapToLong(Stage::params).sum() + classifierParams;
    }

    /** The whole network as one block (stages then classifier). */
    public SequentialBlock network() { return network; }

    public Model model() { return model; }

    public NDManager manager() { return model.getNDManager(); }

    /** The folder it was loaded from or saved to, or null. */
    public Path directory() { return directory; }

    void directory(Path dir) { this.directory = dir; }

    /** SHA-256 of the parameter file, or null for an unsaved backbone. */
    public String parametersSha256() { return spec.parameters == null ? null : spec.parameters.sha256; }

    /** Batch shape {@code (n, C, H, W)}. */
    public Shape batchShape(long n) {
        return new Shape(n, input.channels(), input.height(), input.width());
    }

    /**
     * Runs the whole network in inference mode.
     *
     * @param x non-null batch {@code (n, C, H, W)} of normalised images
     * @return logits {@code (n, classes)}, attached to x's manager
     */
    public NDArray logits(NDArray x) {
        ParameterStore ps = new ParameterStore(x.getManager(), false);
        return network.forward(ps, new NDList(x), false).singletonOrThrow();
    }

    /**
     * Runs every stage in inference mode and returns each stage's output, then the logits.
     *
     * @param x non-null batch {@code (n, C, H, W)}
     * @return a list of {@code stages().size() + 1} arrays, attached to x's manager
     */
    public List<NDArray> forwardAll(NDArray x) {
        ParameterStore ps = new ParameterStore(x.getManager(), false);
        List<NDArray> outs = new ArrayList<>();
        NDList cur = new NDList(x);
        for (Stage s : stages) {
            cur = s.block().forward(ps, cur, false);
            outs.add(cur.singletonOrThrow());
        }
        outs.add(classifier.forward(ps, cur, false).singletonOrThrow());
        return outs;
    }

    @Override
    public void close() {
        model.close();
    }
}
