package org.persephonee.core.backbone;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Checks {@link LayerSpec}s as read from {@code backbone.json}: a list has no empty entries, each layer has a
 * type and the fields that type needs within range, and a residual's body and shortcut are checked in turn.
 * Every refusal is an {@link IllegalArgumentException} that names where the layer is and what is wrong.
 */
final class LayerValidation {
    private LayerValidation() { }

    /** Validates a list of layers, refusing empty entries ({@code null} in the JSON) by position. */
    static void validateAll(List<LayerSpec> layers, String where) {
        for (int i = 0; i < layers.size(); i++) {
            if (layers.get(i) == null) {
                throw new IllegalArgumentException(where + "[" + i + "] is empty");
            }
            validate(layers.get(i), where + "[" + i + "]");
        }
    }

    /** Validates one layer; {@code where} starts every message. */
    static void validate(LayerSpec l, String where) {
        if (l.type() == null) {
            throw new IllegalArgumentException(where + ": layer has no 'type' (expected one of "
                    + Arrays.toString(LayerSpec.Type.values()).toLowerCase(Locale.ROOT) + ")");
        }
        switch (l.type()) {
            case CONV:
                positive(where, "out", l.out());
                positive(where, "kernel", l.kernel());
                positive(where, "stride", l.stride());
                nonNegative(where, "pad", l.pad());
                break;
            case LINEAR:
                positive(where, "out", l.out());
                break;
            case MAXPOOL:
            case AVGPOOL:
                positive(where, "kernel", l.kernel());
                positive(where, "stride", l.stride());
                break;
            case DROPOUT:
                if (l.rate() == null || l.rate() < 0 || l.rate() >= 1) {
                    throw new IllegalArgumentException(where + ": dropout needs 0 <= rate < 1");
                }
                break;
            case RESIDUAL:
                if (l.body() == null || l.body().isEmpty()) {
                    throw new IllegalArgumentException(where + ": residual needs a non-empty 'body'");
                }
                validateAll(l.body(), where + " body");
                if (l.shortcut() != null) {
                    validateAll(l.shortcut(), where + " shortcut");
                }
                break;
            default:
                break;
        }
    }

    private static void positive(String where, String field, Integer v) {
        if (v == null || v <= 0) {
            throw new IllegalArgumentException(where + ": '" + field + "' must be a positive integer, got " + v);
        }
    }

    private static void nonNegative(String where, String field, Integer v) {
        if (v == null || v < 0) {
            throw new IllegalArgumentException(where + ": '" + field + "' must be >= 0, got " + v);
        }
    }
}
