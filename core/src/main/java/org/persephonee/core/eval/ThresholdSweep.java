package org.persephonee.core.eval;

import java.util.ArrayList;
import java.util.List;

/** Sweeps confidence thresholds to draw accuracy-vs-cost curves of each exit alone and of the cascade. */
public final class ThresholdSweep {
    private ThresholdSweep() { }

    /** A threshold no confidence reaches (confidences are at most 1): the exit is evaluated, nobody leaves there. */
    public static final double OFF = 1.01;

    /** Thresholds swept: 0 to 0.9 in steps of 0.05, a finer grid up to 0.999, and 1.01 (no early exit). */
    public static double[] grid() {
        List<Double> g = new ArrayList<>();
        for (int i = 0; i <= 18; i++) {
            g.add(i * 0.05);
        }
        for (double t : new double[] {0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99, 0.995, 0.999, OFF}) {
            g.add(t);
        }
        return g.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static CurvePoint point(double t, CascadeResult r) {
        return new CurvePoint(t, r.accuracy(), r.meanMs(), r.meanMacs(), 1 - r.share()[r.share().length - 1]);
    }

    /** Curve of exit {@code j} alone: it leaves early when confident, otherwise the final exit decides. */
    public static Curve exitCurve(Cascade c, int j, String name) {
        List<CurvePoint> pts = new ArrayList<>();
        for (double t : grid()) {
            pts.add(point(t, c.evaluate(new int[] {j}, t)));
        }
        return new Curve(name, j, pts);
    }

    /** Curve of a cascade of exits with one global threshold. */
    public static Curve cascadeCurve(Cascade c, int[] exits, String name) {
        List<CurvePoint> pts = new ArrayList<>();
        for (double t : grid()) {
            pts.add(point(t, c.evaluate(exits, t)));
        }
        return new Curve(name, -1, pts);
    }

    /** All curves: each exit alone (names given), then the cascade of all exits. */
    public static List<Curve> all(Cascade c, List<String> exitNames) {
        List<Curve> out = new ArrayList<>();
        int[] all = new int[c.exitCount()];
        for (int j = 0; j < all.length; j++) {
            all[j] = j;
            out.add(exitCurve(c, j, exitNames.get(j)));
        }
        out.add(cascadeCurve(c, all, "cascade"));
        return out;
    }
}
