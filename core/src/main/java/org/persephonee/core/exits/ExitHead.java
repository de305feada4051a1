package org.persephonee.core.exits;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import org.persephonee.core.backbone.LayerSpec;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.List;

/**
 * An exit classifier head attached after a stage: its layers, DJL block and weights. Owns a DJL
 * {@link Model}: close it.
 */
public final class ExitHead implements AutoCloseable {
    private final ExitPlacement placement;
    private final long[] inputShape;
    private final int classes;
    private final List<LayerSpec> layers;
    private final SequentialBlock block;
    private final Model model;
    private final long macs;
    private final long params;

    /**
     * Builds an untrained head.
     *
     * @param placement non-null
     * @param inputShape the stage's output shape (C, H, W)
     * @param classes number of personal classes (at least 2)
     */
    public ExitHead(ExitPlacement placement, long[] inputShape, int classes) {
        this.placement = placement;
        this.inputShape = inputShape.clone();
        this.classes = classes;
        this.layers = placement.head().layers(inputShape, classes);
        this.block = LayerSpec.sequence(layers);
        this.macs = LayerSpec.chainMacs(layers, inputShape);
        this.params = LayerSpec.chainParams(layers, inputShape);
        org.persephonee.core.engine.Engines.pytorch();
        this.model = Model.newInstance("exit-" + placement.stage(), Device.cpu(), "PyTorch");
        model.setBlock(block);
    }

    public ExitPlacement placement() { return placement; }

    /** The head's layers, as built (for exporters). */
    public List<LayerSpec> layers() { return List.copyOf(layers); }

    public String stage() { return placement.stage(); }

    public HeadSpec head() { return placement.head(); }

    /** The exit's key ({@link ExitPlacement#key()}). */
    public String key() { return placement.key(); }

    public long[] inputShape() { return inputShape.clone(); }

    public int classes() { return classes; }

    /** Multiply-accumulates for one image. */
    public long macs() { return macs; }

    /** Trainable parameters. */
    public long params() { return params; }

    public SequentialBlock block() { return block; }

    public Model model() { return model; }

    /** Batch shape {@code (n, C, H, W)} of this head's input. */
    public Shape batchShape(long n) {
        return new Shape(n, inputShape[0], inputShape[1], inputShape[2]);
    }

    /** Initialises weights with the blocks' default initialisers (before loading saved weights). */
    public void initialize() {
        block.initialize(model.getNDManager(), DataType.FLOAT32, batchShape(1));
    }

    /** Logits for a batch of stage outputs; inference mode unless {@code training}. */
    public NDArray forward(NDArray features, boolean training) {
        return block.forward(new ParameterStore(features.getManager(), false), new NDList(features), training)
                .singletonOrThrow();
    }

    /**
     * The head's parameter-free leading layers (pooling, flatten) when all that follows them is one linear
     * layer, as in grid, linear and global-pool heads; null for heads with hidden layers. Features passed
     * through these layers once can be cached, and the head trained as a linear classifier on them.
     */
    public List<LayerSpec> probePrefix() {
        return probePrefix(layers);
    }

    /** {@link #probePrefix()} of a head design on a stage output shape (C, H, W). */
    public static List<LayerSpec> probePrefix(HeadSpec head, long[] inputShape) {
        return probePrefix(head.layers(inputShape, 2));
    }

    private static List<LayerSpec> probePrefix(List<LayerSpec> layers) {
        int last = layers.size() - 1;
        if (last < 0 || layers.get(last).type() != LayerSpec.Type.LINEAR) {
            return null;
        }
        for (int i = 0; i < last; i++) {
            switch (layers.get(i).type()) {
                case AVGPOOL, MAXPOOL, GAP, FLATTEN -> { }
                default -> {
                    return null;
                }
            }
        }
        return List.copyOf(layers.subList(0, last));
    }

    /** Width of a probe feature row: the flattened output of {@link #probePrefix()}; -1 when there is none. */
    public int probeWidth() {
        List<LayerSpec> prefix = probePrefix();
        if (prefix == null) {
            return -1;
        }
        long w = 1;
        for (long d : LayerSpec.chainShape(prefix, inputShape)) {
            w *= d;
        }
        return (int) w;
    }

    /**
     * Logits from probe features (rows of {@link #probeWidth()} floats, as the prefix leaves them): runs only
     * the final linear layer. Same result as {@link #forward} on the stage output.
     */
    public NDArray forwardProbe(NDArray probe) {
        List<ai.djl.nn.Block> children = block.getChildren().values();
        return children.get(children.size() - 1).forward(new ParameterStore(probe.getManager(), false),
                new NDList(probe), false).singletonOrThrow();
    }

    /** The final linear layer's weights ({@code classes x in}, row-major) and bias. */
    public float[][] linear() {
        float[] w = null;
        float[] b = null;
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (p.getValue().getType() == Parameter.Type.WEIGHT) {
                w = p.getValue().getArray().toFloatArray();
            } else if (p.getValue().getType() == Parameter.Type.BIAS) {
                b = p.getValue().getArray().toFloatArray();
            }
        }
        return new float[][] {w, b};
    }

    /** Sets the final linear layer's weights and bias (for example from the backbone's classifier). */
    public void setLinear(float[] weight, float[] bias) {
        ai.djl.nn.ParameterList ps = block.getParameters();
        Parameter w = null;
        Parameter b = null;
        for (Pair<String, Parameter> p : ps) {
            if (p.getValue().getType() == Parameter.Type.WEIGHT) {
                w = p.getValue();
            } else if (p.getValue().getType() == Parameter.Type.BIAS) {
                b = p.getValue();
            }
        }
        if (w == null || b == null || w.getArray().size() != weight.length || b.getArray().size() != bias.length) {
            throw new IllegalArgumentException("linear weights do not fit head " + placement);
        }
        w.getArray().set(weight);
        b.getArray().set(bias);
    }

    /** The head's weights in DJL's parameter format. */
    public byte[] saveWeights() throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bos)) {
            block.saveParameters(out);
        }
        return bos.toByteArray();
    }

    /**
     * Loads weights saved by {@link #saveWeights()}, checking every shape.
     *
     * @throws MalformedModelException when the weights do not fit this head
     */
    public void loadWeights(byte[] data) throws IOException, MalformedModelException {
        initialize();
        java.util.Map<String, Shape> want = new java.util.HashMap<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            want.put(p.getKey(), p.getValue().getArray().getShape());
        }
        NDManager m = model.getNDManager();
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
            block.loadParameters(m, in);
            if (in.read() != -1) {
                throw new MalformedModelException("unexpected bytes after the last parameter");
            }
        } catch (java.io.EOFException e) {
            throw new MalformedModelException("truncated head weights", e);
        }
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (!p.getValue().getArray().getShape().equals(want.get(p.getKey()))) {
                throw new MalformedModelException("head weight " + p.getKey() + " has shape "
                        + p.getValue().getArray().getShape() + ", expected " + want.get(p.getKey()));
            }
        }
    }

    @Override
    public void close() {
        model.close();
    }
}
