package org.persephonee.core.personalise;

import java.util.Locale;

/**
 * Which of the person's labels personalisation may use.
 *
 * @param kind ALL, NONE or FRACTION
 * @param fraction for FRACTION, the share of labelled training images (per class, seeded) whose labels
 *                 are kept; 1 for ALL, 0 for NONE
 */
public record LabelRegime(Kind kind, double fraction) {

    /** The regimes. */
    public enum Kind { ALL, NONE, FRACTION }

    public static final LabelRegime ALL = new LabelRegime(Kind.ALL, 1);
    public static final LabelRegime NONE = new LabelRegime(Kind.NONE, 0);

    public LabelRegime {
        if (kind == Kind.FRACTION && !(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("label fraction must be in (0, 1], got " + fraction);
        }
    }

    /** Parses {@code all}, {@code none}, a fraction such as {@code 0.1}, or a percentage such as {@code 10%}. */
    public static LabelRegime parse(String s) {
        String t = s.strip().toLowerCase(Locale.ROOT);
        if (t.equals("all")) {
            return ALL;
        }
        if (t.equals("none")) {
            return NONE;
        }
        try {
            double f = t.endsWith("%") ? Double.parseDouble(t.substring(0, t.length() - 1)) / 100
                    : Double.parseDouble(t);
            if (f == 0) {
                return NONE;
            }
            if (f == 1) {
                return ALL;
            }
            return new LabelRegime(Kind.FRACTION, f);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("labels must be all, none or a fraction in (0, 1], got '" + s + "'");
        }
    }

    @Override
    public String toString() {
        return switch (kind) {
            case ALL -> "all";
            case NONE -> "none";
            case FRACTION -> String.format(Locale.ROOT, "%.3g", fraction);
        };
    }
}
