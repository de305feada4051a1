package org.persephonee.core.eval;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * An accuracy-vs-cost curve: one exit alone (with the final exit behind it) or the whole cascade,
 * one point per threshold.
 *
 * @param name display name ("block3:conv32x1", "cascade")
 * @param exit exit index, or -1 for the cascade
 * @param points in threshold order
 */
public record Curve(String name, int exit, List<CurvePoint> points) {

    /** Points no other point beats on both accuracy and cost (by milliseconds, or MACs when asked). */
    public List<CurvePoint> paretoFront(boolean byMacs) {
        return pareto(points, byMacs);
    }

    /** Pareto front of any points: sorted by cost, strictly increasing accuracy. */
    public static List<CurvePoint> pareto(List<CurvePoint> pts, boolean byMacs) {
        List<CurvePoint> sorted = new ArrayList<>(pts);
        Comparator<CurvePoint> cost = Comparator.comparingDouble(p -> byMacs ? p.macs() : p.ms());
        sorted.sort(cost.thenComparing(Comparator.comparingDouble(CurvePoint::accuracy).reversed()));
        List<CurvePoint> front = new ArrayList<>();
        double best = Double.NEGATIVE_INFINITY;
        for (CurvePoint p : sorted) {
            if (p.accuracy() > best) {
                front.add(p);
                best = p.accuracy();
            }
        }
        return front;
    }
}
