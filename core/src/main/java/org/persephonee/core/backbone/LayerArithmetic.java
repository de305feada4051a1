package org.persephonee.core.backbone;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.ToLongBiFunction;

/**
 * The arithmetic of {@link LayerSpec}s, by the conventions stated there: the output shape of a layer or a chain
 * of layers for one example, their multiply-accumulates and their trainable parameters. Expects validated
 * layers; an input shape that cannot feed a layer is refused with the layer's kind and the shape.
 */
final class LayerArithmetic {
    private LayerArithmetic() { }

    /**
     * Output shape of one layer for one example.
     *
     * @throws IllegalArgumentException when the input shape cannot feed the layer
     */
    static long[] outputShape(LayerSpec l, long[] in) {
        switch (l.type()) {
            case CONV:
                requireMap(l, in);
                return new long[] {l.out(), convOut(in[1], l.kernel(), l.stride(), l.pad()),
                        convOut(in[2], l.kernel(), l.stride(), l.pad())};
            case MAXPOOL:
            case AVGPOOL:
                requireMap(l, in);
                return new long[] {in[0], convOut(in[1], l.kernel(), l.stride(), 0),
                        convOut(in[2], l.kernel(), l.stride(), 0)};
            case GAP:
                requireMap(l, in);
                return new long[] {in[0], 1, 1};
            case FLATTEN:
                return new long[] {flatSize(in)};
            case LINEAR:
                return new long[] {l.out()};
            case RESIDUAL:
                long[] a = chainShape(l.body(), in);
                long[] b = l.shortcut() == null || l.shortcut().isEmpty() ? in : chainShape(l.shortcut(), in);
                if (!Arrays.equals(a, b)) {
                    throw new IllegalArgumentException("residual body gives " + Arrays.toString(a)
                            + " but shortcut gives " + Arrays.toString(b));
                }
                return a;
            default:
                return in.clone();
        }
    }

    /** Multiply-accumulates of one layer for one example of the given input shape. */
    static long macs(LayerSpec l, long[] in) {
        switch (l.type()) {
            case CONV: {
                long[] o = outputShape(l, in);
                return o[0] * o[1] * o[2] * in[0] * (long) l.kernel() * l.kernel();
            }
            case LINEAR:
                return flatSize(in) * l.out();
            case RESIDUAL:
                return chainMacs(l.body(), in) + (l.shortcut() == null ? 0 : chainMacs(l.shortcut(), in));
            default:
                return 0;
        }
    }

    /** Trainable parameters of one layer for the given input shape. */
    static long params(LayerSpec l, long[] in) {
        switch (l.type()) {
            case CONV:
                return (long) l.out() * in[0] * l.kernel() * l.kernel()
                        + (Boolean.TRUE.equals(l.bias()) ? l.out() : 0);
            case BN:
                return 2L * in[0];
            case LINEAR:
                return flatSize(in) * l.out() + (Boolean.FALSE.equals(l.bias()) ? 0 : l.out());
            case RESIDUAL:
                return chainParams(l.body(), in) + (l.shortcut() == null ? 0 : chainParams(l.shortcut(), in));
            default:
                return 0;
        }
    }

    /** Output shape of a chain of layers. */
    static long[] chainShape(List<LayerSpec> layers, long[] in) {
        long[] s = in;
        for (LayerSpec l : layers) {
            s = outputShape(l, s);
        }
        return s;
    }

    /** Multiply-accumulates of a chain of layers. */
    static long chainMacs(List<LayerSpec> layers, long[] in) {
        return chainSum(layers, in, LayerArithmetic::macs);
    }

    /** Trainable parameters of a chain of layers. */
    static long chainParams(List<LayerSpec> layers, long[] in) {
        return chainSum(layers, in, LayerArithmetic::params);
    }

    /** The sum of a per-layer count over a chain, each layer given the shape the layers before it produce. */
    private static long chainSum(List<LayerSpec> layers, long[] in, ToLongBiFunction<LayerSpec, long[]> count) {
        long total = 0;
        long[] s = in;
        for (LayerSpec l : layers) {
            total += count.applyAsLong(l, s);
            s = outputShape(l, s);
        }
        return total;
    }

    private static long flatSize(long[] in) {
        long n = 1;
        for (long d : in) {
            n *= d;
        }
        return n;
    }

    private static long convOut(long size, int k, int s, int p) {
        long o = (size + 2L * p - k) / s + 1;
        if (o <= 0) {
            throw new IllegalArgumentException("kernel " + k + " with stride " + s + " does not fit input size " + size);
        }
        return o;
    }

    private static void requireMap(LayerSpec l, long[] in) {
        if (in.length != 3) {
            throw new IllegalArgumentException(l.type().name().toLowerCase(Locale.ROOT)
                    + " needs a (C, H, W) feature map, got " + Arrays.toString(in));
        }
    }
}
