package org.persephonee.views;

import javafx.beans.InvalidationListener;
import javafx.collections.ObservableList;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.fx.ChartViewer;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYBarRenderer;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.persephonee.core.workspace.RunHistory;

import java.awt.Color;

/**
 * The workspace's runs on a timeline: for each kept run (oldest left), the operating point's accuracy (line) and
 * what personalising cost in seconds (bars: updates of the run before in green, runs from scratch in grey), so a
 * person sees what each batch of new photos bought and what it took. Reads the run history, so it survives a restart.
 */
final class TimelineChart {
    private final XYSeries accuracy = new XYSeries("operating point accuracy (%)");
    private final XYSeries scratch = new XYSeries("seconds, from scratch");
    private final XYSeries update = new XYSeries("seconds, update of the run before");
    private final ChartViewer viewer;
    private final NumberAxis x;

    TimelineChart(ObservableList<RunHistory.Entry> runs) {
        XYPlot plot = new XYPlot();
        NumberAxis x = new NumberAxis("run");
        x.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        x.setAutoRange(false);
        plot.setDomainAxis(x);
        this.x = x;
        NumberAxis acc = new NumberAxis("accuracy (%)");
        acc.setAutoRangeIncludesZero(false);
        acc.setAutoRangeMinimumSize(10);
        plot.setRangeAxis(0, acc);
        NumberAxis secs = new NumberAxis("seconds");
        plot.setRangeAxis(1, secs);
        plot.setDataset(0, new XYSeriesCollection(accuracy));
        XYLineAndShapeRenderer line = new XYLineAndShapeRenderer(true, true);
        line.setSeriesPaint(0, new Color(0x1f77b4));
        plot.setRenderer(0, line);
        XYSeriesCollection bars = new XYSeriesCollection(scratch);
        bars.addSeries(update);
        bars.setIntervalWidth(0.6);
        plot.setDataset(1, bars);
        XYBarRenderer bar = new XYBarRenderer(0.0);
        bar.setShadowVisible(false);
        bar.setBarPainter(new org.jfree.chart.renderer.xy.StandardXYBarPainter());
        bar.setSeriesPaint(0, new Color(0xb0b0b0));
        bar.setSeriesPaint(1, new Color(0x5cb85c));
        plot.setRenderer(1, bar);
        plot.mapDatasetToRangeAxis(1, 1);
        // the accuracy line over the bars (FORWARD drew the bars last, hiding a run's point behind its bar)
        plot.setDatasetRenderingOrder(org.jfree.chart.plot.DatasetRenderingOrder.REVERSE);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        JFreeChart chart = new JFreeChart(null, JFreeChart.DEFAULT_TITLE_FONT, plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        viewer = new ChartViewer(chart);
        viewer.setPrefSize(420, 180);
        viewer.setMinHeight(160);
        viewer.setId("review-timeline");
        InvalidationListener redraw = o -> redraw(runs);
        runs.addListener(redraw);
        redraw(runs);
    }

    private void redraw(ObservableList<RunHistory.Entry> runs) {
        int first = runs.isEmpty() ? 1 : Integer.MAX_VALUE;
        int last = runs.isEmpty() ? 1 : Integer.MIN_VALUE;
        for (RunHistory.Entry e : runs) {
            first = Math.min(first, e.number());
            last = Math.max(last, e.number());
        }
        // whole runs only, at least four wide (one run filled the plot; the automatic range showed run -1 and 0).
        // Set before the points: the accuracy axis ranges over the points inside the run axis's range at each change,
        // so points added under the old range (the constructor's 0-1) were left off it and drawn below the plot
        x.setRange(first - 0.5, Math.max(last, first + MIN_RUNS_SHOWN - 1) + 0.5);
        accuracy.clear();
        scratch.clear();
        update.clear();
        // newest first in the history: the timeline reads oldest to newest
        for (int i = runs.size() - 1; i >= 0; i--) {
            RunHistory.Entry e = runs.get(i);
            accuracy.add(e.number(), 100 * e.record().accuracy);
            if (e.record().seconds > 0) {
                (e.record().update ? update : scratch).add(e.number(), e.record().seconds);
            }
        }
    }

    /** Runs the axis spans at least, so one bar does not fill the plot. */
    static final int MIN_RUNS_SHOWN = 4;

    ChartViewer viewer() { return viewer; }
}
