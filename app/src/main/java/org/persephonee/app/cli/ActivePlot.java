package org.persephonee.app.cli;

import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.persephonee.core.bench.ActiveBench;
import org.persephonee.core.util.Vectors;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.ToDoubleFunction;

/**
 * The active-learning bench's curves as a PNG: per persona and order, the median test accuracy of the operating point
 * (solid) and of the best single head (dashed) against the labels reviewed. Drawn with JFreeChart off screen.
 */
final class ActivePlot {
    private ActivePlot() { }

    /** Writes the plot atomically. */
    static void write(List<ActiveBench.Point> points, Path png) throws IOException {
        System.setProperty("java.awt.headless", "true");
        Map<String, List<ActiveBench.Point>> groups = new LinkedHashMap<>();
        List<ActiveBench.Point> zeros = new ArrayList<>();
        for (ActiveBench.Point p : points) {
            if (p.labels() == 0) {
                zeros.add(p);
            } else {
                groups.computeIfAbsent(p.persona() + ", " + p.ranking(), k -> new ArrayList<>()).add(p);
            }
        }
        XYSeriesCollection ds = new XYSeriesCollection();
        List<Boolean> dashed = new ArrayList<>();
        for (Map.Entry<String, List<ActiveBench.Point>> g : groups.entrySet()) {
            String persona = g.getValue().get(0).persona();
            List<ActiveBench.Point> pts = new ArrayList<>(g.getValue());
            zeros.stream().filter(z -> z.persona().equals(persona)).findFirst().ifPresent(pts::add);
            ds.addSeries(series(g.getKey() + ": operating point", pts, ActiveBench.Point::operatingPoint));
            dashed.add(false);
            ds.addSeries(series(g.getKey() + ": best head", pts, ActiveBench.Point::bestHead));
            dashed.add(true);
        }
        JFreeChart chart = ChartFactory.createXYLineChart("Labels reviewed \u2192 test accuracy (median over orders)",
                "labels reviewed (from 0 %)", "test accuracy (%)", ds, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        ((NumberAxis) plot.getRangeAxis()).setAutoRangeIncludesZero(false);
        XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, true);
        Color[] colours = {new Color(0xD62728), new Color(0x7F7F7F), new Color(0x1F77B4), new Color(0xAAAAAA),
            new Color(0x2CA02C), new Color(0xFF7F0E)};
        for (int s = 0; s < ds.getSeriesCount(); s++) {
            r.setSeriesPaint(s, colours[(s / 2) % colours.length]);
            r.setSeriesStroke(s, dashed.get(s) ? new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER,
                    1f, new float[] {6f, 4f}, 0f) : new BasicStroke(2.2f));
        }
        plot.setRenderer(r);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ChartUtils.writeChartAsPNG(out, chart, 900, 520);
        org.persephonee.core.util.AtomicFiles.write(png, out.toByteArray());
    }

    private static XYSeries series(String name, List<ActiveBench.Point> pts, ToDoubleFunction<ActiveBench.Point> f) {
        TreeMap<Integer, List<Double>> by = new TreeMap<>();
        for (ActiveBench.Point p : pts) {
            by.computeIfAbsent(p.labels(), k -> new ArrayList<>()).add(f.applyAsDouble(p));
        }
        XYSeries s = new XYSeries(name);
        by.forEach((k, v) -> s.add((double) k, 100 * Vectors.lowerMedian(v.stream().mapToDouble(Double::doubleValue)
                .toArray())));
        return s;
    }
}
