package org.persephonee.core.backbone;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.pooling.Pool;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * One layer of a declarative network description, as stored in {@code backbone.json}.
 *
 * <p>Shapes are per example, without the batch axis: {@code (C, H, W)} for feature maps and {@code (N)}
 * after {@code flatten}. MACs count multiply-accumulates of convolutions and linear layers only
 * (BatchNorm, activations, pooling and additions are not counted, as is common practice).
 * Parameters count trainable weights (convolution/linear weights and biases, BatchNorm gamma and beta).
 */
public final class LayerSpec {

    /** The kinds of layer a backbone may use. */
    public enum Type { CONV, BN, RELU, RESIDUAL, MAXPOOL, AVGPOOL, GAP, FLATTEN, LINEAR, DROPOUT }

    private Type type;
    private Integer out;
    private Integer kernel;
    private Integer stride;
    private Integer pad;
    private Boolean bias;
    private Float rate;
    private List<LayerSpec> body;
    private List<LayerSpec> shortcut;

    private LayerSpec() { }

    private static LayerSpec of(Type type) {
        LayerSpec s = new LayerSpec();
        s.type = type;
        return s;
    }

    /** A 2-D convolution with square kernel; no bias (a BatchNorm normally follows). */
    public static LayerSpec conv(int out, int kernel, int stride, int pad) {
        LayerSpec s = of(Type.CONV);
        s.out = out;
        s.kernel = kernel;
        s.stride = stride;
        s.pad = pad;
        s.bias = false;
        return s;
    }

    public static LayerSpec bn() { return of(Type.BN); }

    public static LayerSpec relu() { return of(Type.RELU); }

    public static LayerSpec gap() { return of(Type.GAP); }

    public static LayerSpec flatten() { return of(Type.FLATTEN); }

    public static LayerSpec maxPool(int kernel, int stride) {
        LayerSpec s = of(Type.MAXPOOL);
        s.kernel = kernel;
        s.stride = stride;
        return s;
    }

    public static LayerSpec avgPool(int kernel, int stride) {
        LayerSpec s = of(Type.AVGPOOL);
        s.kernel = kernel;
        s.stride = stride;
        return s;
    }

    public static LayerSpec linear(int out) {
        LayerSpec s = of(Type.LINEAR);
        s.out = out;
        s.bias = true;
        return s;
    }

    public static LayerSpec dropout(float rate) {
        LayerSpec s = of(Type.DROPOUT);
        s.rate = rate;
        return s;
    }

    /**
     * A residual connection: {@code body(x) + shortcut(x)}; an empty or {@code null} shortcut is the identity.
     */
    public static LayerSpec residual(List<LayerSpec> body, List<LayerSpec> shortcut) {
        LayerSpec s = of(Type.RESIDUAL);
        s.body = new ArrayList<>(body);
        s.shortcut = shortcut == null ? new ArrayList<>() : new ArrayList<>(shortcut);
        return s;
    }

    public Type type() { return type; }

    // the fields, null where unset (validate checks those this layer's type needs)
    Integer out() { return out; }

    Integer kernel() { return kernel; }

    Integer stride() { return stride; }

    Integer pad() { return pad; }

    Boolean bias() { return bias; }

    Float rate() { return rate; }

    List<LayerSpec> body() { return body; }

    List<LayerSpec> shortcut() { return shortcut; }

    /**
     * Checks that the fields this layer's type needs are present and sensible.
     *
     * @param where a human-readable location (for example {@code "stage 'block3' layer 2"}) used in messages
     * @throws IllegalArgumentException naming {@code where} and the problem
     */
    public void validate(String where) { LayerValidation.validate(this, where); }

    /** Builds the DJL block for this layer. */
    public Block toBlock() {
        switch (type) {
            case CONV:
                return Conv2d.builder()
                        .setKernelShape(new Shape(kernel, kernel))
                        .optStride(new Shape(stride, stride))
                        .optPadding(new Shape(pad, pad))
                        .optBias(Boolean.TRUE.equals(bias))
                        .setFilters(out)
                        .build();
            case BN:
                return BatchNorm.builder().build();
            case RELU:
                return Activation.reluBlock();
            case MAXPOOL:
                return Pool.maxPool2dBlock(new Shape(kernel, kernel), new Shape(stride, stride));
            case AVGPOOL:
                return Pool.avgPool2dBlock(new Shape(kernel, kernel), new Shape(stride, stride));
            case GAP:
                return Pool.globalAvgPool2dBlock();
            case FLATTEN:
                return Blocks.batchFlattenBlock();
            case LINEAR:
                return Linear.builder().setUnits(out).optBias(!Boolean.FALSE.equals(bias)).build();
            case DROPOUT:
                return Dropout.builder().optRate(rate).build();
            case RESIDUAL:
                Block sc = shortcut == null || shortcut.isEmpty() ? Blocks.identityBlock() : sequence(shortcut);
                return new ParallelBlock(
                        lists -> new NDList(lists.get(0).singletonOrThrow().add(lists.get(1).singletonOrThrow())),
                        Arrays.asList(sequence(body), sc));
            default:
                throw new IllegalStateException("unknown layer type " + type);
        }
    }

    /** Builds a sequential block of layers. */
    public static SequentialBlock sequence(List<LayerSpec> layers) {
        SequentialBlock seq = new SequentialBlock();
        for (LayerSpec l : layers) {
            seq.add(l.toBlock());
        }
        return seq;
    }

    /**
     * Output shape of this layer for one example.
     *
     * @throws IllegalArgumentException when the input shape cannot feed this layer
     */
    public long[] outputShape(long[] in) { return LayerArithmetic.outputShape(this, in); }

    /** Multiply-accumulates for one example of the given input shape. */
    public long macs(long[] in) { return LayerArithmetic.macs(this, in); }

    /** Trainable parameters for the given input shape. */
    public long params(long[] in) { return LayerArithmetic.params(this, in); }

    /** Output shape of a chain of layers for one example. */
    public static long[] chainShape(List<LayerSpec> layers, long[] in) {
        return LayerArithmetic.chainShape(layers, in);
    }

    /** Multiply-accumulates of a chain of layers for one example. */
    public static long chainMacs(List<LayerSpec> layers, long[] in) {
        return LayerArithmetic.chainMacs(layers, in);
    }

    /** Trainable parameters of a chain of layers. */
    public static long chainParams(List<LayerSpec> layers, long[] in) {
        return LayerArithmetic.chainParams(layers, in);
    }

    /** A short human-readable description, such as {@code conv3x3/2(32)}. */
    public String describe() {
        switch (type) {
            case CONV:
                return "conv" + kernel + "x" + kernel + (stride > 1 ? "/" + stride : "") + "(" + out + ")";
            case LINEAR:
                return "linear(" + out + ")";
            case MAXPOOL:
                return "maxpool" + kernel + "/" + stride;
            case AVGPOOL:
                return "avgpool" + kernel + "/" + stride;
            case DROPOUT:
                return "dropout(" + rate + ")";
            case RESIDUAL:
                StringBuilder sb = new StringBuilder("res[");
                for (int i = 0; i < body.size(); i++) {
                    sb.append(i == 0 ? "" : " ").append(body.get(i).describe());
                }
                sb.append(shortcut == null || shortcut.isEmpty() ? " + id]" : " + proj]");
                return sb.toString();
            default:
                return type.name().toLowerCase(Locale.ROOT);
        }
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof LayerSpec)) {
            return false;
        }
        LayerSpec l = (LayerSpec) o;
        return type == l.type && Objects.equals(out, l.out) && Objects.equals(kernel, l.kernel)
                && Objects.equals(stride, l.stride) && Objects.equals(pad, l.pad) && Objects.equals(bias, l.bias)
                && Objects.equals(rate, l.rate) && Objects.equals(body, l.body)
                && Objects.equals(emptyToNull(shortcut), emptyToNull(l.shortcut));
    }

    private static List<LayerSpec> emptyToNull(List<LayerSpec> l) {
        return l == null || l.isEmpty() ? null : l;
    }

    @Override
    public int hashCode() {
        return Objects.hash(type, out, kernel, stride, pad, bias, rate, body);
    }

    @Override
    public String toString() {
        return describe();
    }
}
