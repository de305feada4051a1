package org.persephonee.core.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import java.util.function.BinaryOperator;

/**
 * Arithmetic of an array with a Java number, the scalar made by libtorch in its own memory.
 *
 * <p>DJL's own overloads ({@code x.mul(2f)}, {@code x.maximum(0)}, {@code x.div(t)}) wrap the number in a tensor over
 * a Java direct buffer and close that tensor when the operation returns. Where libtorch keeps a reference to the
 * scalar after that (autograd saves a product's or a quotient's operands for the backward pass), nothing on the
 * Java side holds the buffer any more: the garbage collector frees it, and the backward pass reads whatever memory
 * is there. Gradients then come out wrong, now and then infinite or NaN: the engine self-check's {@code maximum(0)}
 * differed in 29 of 30 runs with a thread collecting garbage beside it, and a conv exit's distillation loss
 * ({@code z.div(T)}) stopped a personalisation with a NaN at a step that a repeat of the same run passed. A scalar
 * made here is owned by libtorch, which frees it only when its last reference goes, so it may be closed at once.
 * The architecture test forbids DJL's number overloads in core.
 */
public final class Tensors {
    private Tensors() { }

    /** A 0-dimensional array of {@code value} in {@code like}'s manager and data type, in libtorch's memory. */
    public static NDArray scalar(NDArray like, float value) {
        return like.getManager().full(new Shape(), value, like.getDataType());
    }

    /** {@code op(a, value)}, the scalar closed once the operation has returned (libtorch keeps what it needs). */
    private static NDArray with(NDArray a, float value, BinaryOperator<NDArray> op) {
        try (NDArray s = scalar(a, value)) {
            return op.apply(a, s);
        }
    }

    /** {@code a * value}. */
    public static NDArray mul(NDArray a, float value) { return with(a, value, NDArray::mul); }

    /** {@code a / value}. */
    public static NDArray div(NDArray a, float value) { return with(a, value, NDArray::div); }

    /** {@code a + value}. */
    public static NDArray add(NDArray a, float value) { return with(a, value, NDArray::add); }

    /** The element-wise maximum of {@code a} and {@code value}. */
    public static NDArray maximum(NDArray a, float value) { return with(a, value, NDArray::maximum); }

    /** {@code a *= value}, in place; returns {@code a}. */
    public static NDArray muli(NDArray a, float value) { return with(a, value, NDArray::muli); }

    /** {@code a += value}, in place; returns {@code a}. */
    public static NDArray addi(NDArray a, float value) { return with(a, value, NDArray::addi); }
}
