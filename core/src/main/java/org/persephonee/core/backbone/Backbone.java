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
 * <p>Two sources: a declarative backbone ({@link BackboneSpec}: layers built as DJL blocks, weights in one
 * parameter file) or a TorchScript stage bundle ({@link StageBundleSpec}: one TorchScript module per stage,
 * made by {@code tools/export-backbone.py}). Everything downstream sees the same stages and classifier.
 *
 * <p>Owns a DJL {@link Model} (and so native memory): close it. Forward passes run in inference mode
 * unless asked otherwise, so BatchNorm running statistics stay as shipped.
 */
public final class Backbone implements AutoCloseable {
    private final BackboneSource source;
    private final String bundleSha256;
    private final InputSpec input;
    private final List<Stage> stages;
    private final Block classifier;
    private final long classifierMacs;
    private final long classifierParams;
    private final String classifierDescription;
    private final SequentialBlock network;
    private final Model model;
    private Path directory;

    private Backbone(StageBundleSpec bundle, String sha256, Model model, List<Block> stageBlocks, Block classifier) {
        this.source = new BackboneSource.TorchScriptStages(bundle);
        this.bundleSha256 = sha256;
        this.input = bundle.input.toInputSpec();
        this.network = new SequentialBlock();
        List<Stage> list = new ArrayList<>();
        long[] shape = input.shape();
        long cumulative = 0;
        for (int i = 0; i < bundle.stages.size(); i++) {
            StageBundleSpec.Entry e = bundle.stages.get(i);
            cumulative += e.macs;
            list.add(new Stage(i, e.name, stageBlocks.get(i), shape, e.outputShape.clone(), e.macs, cumulative, e.params,
                    e.description == null ? "TorchScript " + e.file : e.description));
            network.add(stageBlocks.get(i));
            shape = e.outputShape;
        }
        this.stages = Collections.unmodifiableList(list);
        this.classifier = classifier;
        this.classifierMacs = bundle.classifier.macs;
        this.classifierParams = bundle.classifier.params;
        this.classifierDescription = bundle.classifier.description == null ? "TorchScript " + bundle.classifier.file
                : bundle.classifier.description;
        network.add(classifier);
        this.model = model;
        model.setBlock(network);
    }

    /**
     * Wraps loaded TorchScript modules (see {@link BackboneIO#load}); takes ownership of the model.
     *
     * @param sha256 the bundle's weights hash (over every stage file's SHA-256, in order)
     */
    static Backbone fromStageBundle(StageBundleSpec bundle, String sha256, Model model, List<Block> stageBlocks,
                                    Block classifier) {
        return new Backbone(bundle, sha256, model, stageBlocks, classifier);
    }

    private Backbone(BackboneSpec spec) {
        spec.validate();
        this.source = new BackboneSource.Declarative(spec);
        this.bundleSha256 = null;
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
        StringBuilder d = new StringBuilder();
        for (LayerSpec l : spec.classifier) {
            d.append(d.length() == 0 ? "" : " ").append(l.describe());
        }
        this.classifierDescription = d.toString();
        network.add(classifier);
        org.persephonee.core.engine.Engines.pytorch();
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
        if (isTorchScript()) {
            throw new IllegalStateException("a TorchScript stage bundle comes with its weights");
        }
        network.initialize(model.getNDManager(), DataType.FLOAT32, batchShape(1));
    }

    /** Where the network comes from: a declarative spec or TorchScript stages. */
    public BackboneSource source() { return source; }

    /** True for a TorchScript stage bundle. */
    public boolean isTorchScript() { return source instanceof BackboneSource.TorchScriptStages; }

    public String id() { return source.id(); }

    public String name() {
        String n = source.name();
        return n == null ? id() : n;
    }

    /** One-line description from the backbone's file, or null. */
    public String description() { return source.description(); }

    /** Format of the backbone's files, for display. */
    public String format() {
        return isTorchScript() ? "TorchScript stage bundle" : "PersEPhonEE declarative (DJL parameters)";
    }

    /**
     * Whether BatchNorm running statistics can be re-estimated on personal images (AdaBN). TorchScript
     * stages keep their statistics out of reach (traced in inference mode, buffers not exposed), so no.
     */
    public boolean supportsBatchNormAdaptation() { return !isTorchScript(); }

    /**
     * The files that make up this backbone, relative to its folder: {@code backbone.json} first.
     */
    public List<String> files() {
        List<String> f = new ArrayList<>();
        f.add(BackboneIO.SPEC_FILE);
        f.addAll(source.files());
        return f;
    }

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

    public List<String> classNames() { return Collections.unmodifiableList(source.classes()); }

    public Block classifier() { return classifier; }

    /** Compact description of the final classifier, e.g. {@code gap flatten linear(10)}. */
    public String classifierDescription() { return classifierDescription; }

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

    /**
     * SHA-256 identifying the weights: of the parameter file, or for a stage bundle of every stage file's
     * SHA-256 in order; null for an unsaved backbone.
     */
    public String parametersSha256() {
        if (source instanceof BackboneSource.Declarative d) {
            return d.spec().parameters == null ? null : d.spec().parameters.sha256;
        }
        return bundleSha256;
    }

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
