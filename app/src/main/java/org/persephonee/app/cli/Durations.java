package org.persephonee.app.cli;

/** Formats seconds as {@code 1h02m}, {@code 3m05s} or {@code 4.2s}. */
final class Durations {
    private Durations() { }

    static String format(double seconds) {
        if (Double.isNaN(seconds) || Double.isInfinite(seconds)) {
            return "?";
        }
        long s = Math.round(seconds);
        if (seconds < 60) {
            return String.format("%.1fs", seconds);
        }
        if (s < 3600) {
            return String.format("%dm%02ds", s / 60, s % 60);
        }
        return String.format("%dh%02dm", s / 3600, (s % 3600) / 60);
    }
}
