package org.persephonee.views;

import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.BasicStroke;
import java.awt.geom.Ellipse2D;

/** Chart code run once off the FX thread before the lab's first real chart draw (see {@link #start()}). */
final class ChartWarmUp {
    private final java.util.concurrent.CompletableFuture<Void> warmed = new java.util.concurrent.CompletableFuture<>();
    private boolean warming;

    /**
     * Draws a throwaway chart of the same kind three times on a background thread, into an image (AWT, no JavaFX
     * node): the first draw of a chart with curves, shapes and a legend loads and runs chart code for the first time,
     * and in the lab it took 80 ms of the FX thread at a run's first epoch (12-25 ms after this warm-up, which costs
     * about 0.35 s of one core once). Called when the lab has started; later calls do nothing.
     */
    void start() {
        if (warming) {
            return;
        }
        warming = true;
        Thread t = new Thread(() -> {
            drawThrowawayChart();
            warmed.complete(null);
        }, "chart-warm-up");
        t.setDaemon(true);
        t.start();
    }

    /** Completes when the warm-up has run. */
    java.util.concurrent.CompletableFuture<Void> done() {
        return warmed;
    }

    private static void drawThrowawayChart() {
        try {
            XYSeriesCollection d = new XYSeriesCollection();
            JFreeChart c = ChartFactory.createXYLineChart(null, "latency per image (ms)", "accuracy (%)", d,
                    PlotOrientation.VERTICAL, true, true, false);
            XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, true);
            for (int k = 0; k < 4; k++) {
                XYSeries s = new XYSeries("exit " + k, false, true);
                for (int i = 0; i < 30; i++) {
                    s.add(0.5 + i * 0.05 + k * 0.1, 60 + (i * 7 + k * 3) % 30, false);
                }
                d.addSeries(s);
                r.setSeriesShape(k, new Ellipse2D.Double(-2.5, -2.5, 5, 5));
                r.setSeriesStroke(k, new BasicStroke(1.2f));
            }
            c.getXYPlot().setRenderer(r);
            java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(700, 450,
                    java.awt.image.BufferedImage.TYPE_INT_RGB);
            for (int i = 0; i < 3; i++) {
                java.awt.Graphics2D g = img.createGraphics();
                try {
                    c.draw(g, new java.awt.geom.Rectangle2D.Double(0, 0, 700, 450),
                            new org.jfree.chart.ChartRenderingInfo());
                } finally {
                    g.dispose();
                }
            }
        } catch (RuntimeException | LinkageError e) {
            // only a warm-up: the real chart draws without it, a little slower the first time
            System.getLogger(ChartWarmUp.class.getName()).log(System.Logger.Level.DEBUG, "chart warm-up failed", e);
        }
    }
}
