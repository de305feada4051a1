package org.persephonee.views;

import javafx.beans.binding.Bindings;
import javafx.geometry.Insets;
import javafx.geometry.Pos;
import javafx.scene.Node;
import javafx.scene.control.Label;
import javafx.scene.control.Slider;
import javafx.scene.control.SplitPane;
import javafx.scene.control.TableView;
import javafx.scene.control.ToggleButton;
import javafx.scene.control.ToggleGroup;
import javafx.scene.layout.HBox;
import javafx.scene.layout.Priority;
import javafx.scene.layout.VBox;
import javafx.scene.control.Button;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.entity.ChartEntity;
import org.jfree.chart.entity.XYItemEntity;
import org.jfree.chart.fx.ChartViewer;
import org.jfree.chart.fx.interaction.ChartMouseEventFX;
import org.jfree.chart.fx.interaction.ChartMouseListenerFX;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.persephonee.core.eval.ThresholdSweep;
import org.persephonee.core.eval.CascadeResult;
import org.persephonee.core.eval.Curve;
import org.persephonee.core.eval.CurvePoint;
import org.persephonee.core.eval.Evaluation;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.geom.Ellipse2D;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Accuracy vs latency (ms or MACs): one series per exit (a point per threshold), the cascade, the
 * backbone-only reference and the current operating point; a global threshold slider; a metrics table.
 */
public final class CurvesPane {
    private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c),
        new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x17becf), new Color(0xbcbd22),
        new Color(0x7f7f7f), new Color(0xaec7e8)};

    private final LabModel model;
    private final CurvesController controller;
    private final RunController run;
    private final HistoryController history;
    private final XYSeriesCollection data = new XYSeriesCollection();
    private final JFreeChart chart;
    private final ChartViewer viewer;
    /** The metrics table under the chart and the cascade's summary line. */
    private final MetricsTable metrics;
    private final Slider slider = new Slider(0, 1.0, 0.9);
    private List<Curve> curves = List.of();
    private boolean updatingSlider;

    public CurvesPane(LabModel model, CurvesController controller, RunController run, HistoryController history) {
        this.model = model;
        this.controller = controller;
        this.run = run;
        this.history = history;
        this.metrics = new MetricsTable(model);
        chart = ChartFactory.createXYLineChart(null, "latency per image (ms)", "accuracy (%)", data,
                PlotOrientation.VERTICAL, true, true, false);
        chart.setBackgroundPaint(Color.WHITE);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(new Color(0xfafafa));
        plot.setDomainGridlinePaint(new Color(0xdddddd));
        plot.setRangeGridlinePaint(new Color(0xdddddd));
        ((org.jfree.chart.axis.NumberAxis) plot.getRangeAxis()).setAutoRangeIncludesZero(false);
        viewer = new ChartViewer(chart);
        viewer.setId("curves-chart");
    }

    private final ChartWarmUp warmUp = new ChartWarmUp();

    /** See {@link ChartWarmUp#start()}: called when the lab has started; later calls do nothing. */
    public void warmUp() {
        warmUp.start();
    }

    /** Completes when the warm-up has run (tests measure a started lab). */
    public java.util.concurrent.CompletableFuture<Void> warmed() {
        return warmUp.done();
    }

    /** The chart itself (tests render it to see what a person sees). */
    org.jfree.chart.JFreeChart chart() { return chart; }

    /** The chart's dataset (series per exit, cascade, references). */
    public XYSeriesCollection dataset() { return data; }

    public Node build() {
        slider.setId("threshold-slider");
        slider.setShowTickMarks(true);
        slider.setShowTickLabels(true);
        slider.setMajorTickUnit(0.1);
        slider.setBlockIncrement(0.01);
        Label value = new Label();
        // the slider's figure only when every placed exit uses it: after a run that kept a subset of the exits (or
        // gave them thresholds of their own) it said "threshold 0.90" while the cascade left at 0.00
        value.textProperty().bind(Bindings.createStringBinding(() -> {
            double t = slider.getValue();
            if (!model.exits().isEmpty() && model.exits().stream().allMatch(e -> e.threshold() > 1.0)) {
                // an operating point that keeps no exit turns them all off (thresholds above 1)
                return "threshold off: final exit only";
            }
            boolean shared = !model.exits().isEmpty() && model.exits().stream()
                    .allMatch(e -> Math.abs(Math.min(1.0, e.threshold()) - t) < 1e-9);
            return shared || model.exits().isEmpty() ? String.format(Locale.ROOT, "threshold %.2f", t)
                    : "per-exit thresholds";
        }, slider.valueProperty(), model.exits()));
        value.setId("threshold-value");
        value.setTooltip(new javafx.scene.control.Tooltip("The slider's figure when every exit uses it; otherwise the "
                + "exits have thresholds of their own (some may be off), and moving the slider sets one for all"));
        slider.valueProperty().addListener((o, a, b) -> {
            if (!updatingSlider) {
                controller.setGlobalThreshold(b.doubleValue());
            }
        });
        model.globalThreshold().addListener((o, a, b) -> {
            updatingSlider = true;
            slider.setValue(Math.min(1.0, b.doubleValue()));
            updatingSlider = false;
        });
        slider.disableProperty().bind(model.evaluation().isNull());
        HBox.setHgrow(slider, Priority.ALWAYS);
        ToggleButton ms = new ToggleButton("ms");
        ToggleButton macs = new ToggleButton("MACs");
        macs.setId("unit-macs");
        ToggleGroup g = new ToggleGroup();
        ms.setToggleGroup(g);
        macs.setToggleGroup(g);
        ms.setSelected(true);
        macs.selectedProperty().bindBidirectional(model.curvesInMacs());
        model.curvesInMacs().addListener((o, a, b) -> redraw());
        Label globalLabel = new Label("Global threshold");
        // in a narrow curves pane the slider gives way; the labels and the unit buttons stay readable
        // (they were elided to "..." at the default divider positions on a 1440-px screen)
        for (javafx.scene.control.Control c : List.of(globalLabel, value, ms, macs)) {
            c.setMinWidth(javafx.scene.layout.Region.USE_PREF_SIZE);
        }
        slider.setMinWidth(60);
        HBox controls = new HBox(8, globalLabel, slider, value, ms, macs);
        controls.setAlignment(Pos.CENTER_LEFT);
        controls.setPadding(new Insets(4, 8, 4, 8));
        Label summary = metrics.summary();
        TableView<MetricsTable.Row> table = metrics.table();

        viewer.addChartMouseListener(new ChartMouseListenerFX() {
            @Override
            public void chartMouseClicked(ChartMouseEventFX e) {
                pick(e.getEntity());
            }

            @Override
            public void chartMouseMoved(ChartMouseEventFX e) { }
        });
        // curves of a run whose exits are no longer the placed ones say so, dimmed, with a way to re-run
        Label staleNote = new Label("These curves are from the last run, whose exits differ from the ones placed now: "
                + "the table and the chart no longer describe them.");
        staleNote.setWrapText(true);
        Button rerun = new Button("▶ Personalise again");
        rerun.setOnAction(e -> run.start());
        rerun.disableProperty().bind(model.running().or(javafx.beans.binding.Bindings.isEmpty(model.exits())));
        rerun.setMinWidth(javafx.scene.layout.Region.USE_PREF_SIZE);
        HBox stale = new HBox(8, staleNote, rerun);
        stale.getStyleClass().add("stale-note");
        stale.setStyle("-fx-background-color: #fff3cd; -fx-padding: 6; -fx-alignment: center-left;");
        HBox.setHgrow(staleNote, Priority.ALWAYS);
        stale.visibleProperty().bind(model.curvesStale());
        stale.managedProperty().bind(model.curvesStale());
        viewer.opacityProperty().bind(javafx.beans.binding.Bindings.when(model.curvesStale()).then(0.35).otherwise(1.0));
        VBox top = new VBox(stale, viewer);
        VBox.setVgrow(viewer, Priority.ALWAYS);
        VBox bottom = new VBox(4, controls, CompareRow.build(model, history), CompareRow.verdict(history), summary,
                table);
        history.model().overlay().addListener((o, a, b) -> redraw());
        history.model().comparison().addListener((javafx.beans.InvalidationListener) o -> redraw());
        VBox.setVgrow(table, Priority.SOMETIMES);
        SplitPane split = new SplitPane(top, bottom);
        split.setOrientation(javafx.geometry.Orientation.VERTICAL);
        split.setDividerPositions(0.62);
        model.evaluation().addListener((o, a, b) -> {
            curves = b == null ? List.of() : b.curves();
            redraw();
        });
        model.current().addListener((o, a, b) -> {
            redrawMarker();
            metrics.refresh();
        });
        model.exits().addListener((javafx.collections.ListChangeListener<ExitModel>) c -> metrics.refresh());
        model.liveStats().addListener((javafx.collections.ListChangeListener<org.persephonee.core.personalise.ExitStats>)
                c -> metrics.refresh());
        return split;
    }

    private double x(CurvePoint p) {
        return model.curvesInMacs().get() ? p.macs() / 1e6 : p.ms();
    }

    /** Rebuilds every series (batched: one notification at the end). */
    private void redraw() {
        chart.setNotify(false);
        try {
            data.removeAllSeries();
            XYPlot plot = chart.getXYPlot();
            plot.getDomainAxis().setLabel(model.curvesInMacs().get() ? "MACs per image (millions)" : "latency per image (ms)");
            XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, true) {
                @Override
                public boolean getItemShapeVisible(int series, int item) {
                    // the out-of-fold line ends at the operating point's ring: no second marker inside it
                    return !(item == 1 && OUT_OF_FOLD.equals(data.getSeriesKey(series)))
                            && super.getItemShapeVisible(series, item);
                }
            };
            int k = 0;
            for (Curve c : curves) {
                XYSeries s = new XYSeries(c.name(), false, true);
                for (CurvePoint p : c.points()) {
                    s.add(x(p), 100 * p.accuracy(), false);
                }
                data.addSeries(s);
                int idx = data.getSeriesCount() - 1;
                boolean cascade = c.exit() < 0;
                r.setSeriesPaint(idx, cascade ? Color.BLACK : PALETTE[k++ % PALETTE.length]);
                r.setSeriesStroke(idx, new BasicStroke(cascade ? 2.6f : 1.2f));
                r.setSeriesShape(idx, new Ellipse2D.Double(-2.5, -2.5, 5, 5));
            }
            List<HistoryModel.Overlay> overlays = new java.util.ArrayList<>(history.model().comparison());
            if (history.model().overlay().get() != null) {
                overlays.add(history.model().overlay().get());
            }
            Color[] greys = {new Color(0x8c8c8c), new Color(0x1f77b4), new Color(0x9467bd)};
            for (int o = 0; o < overlays.size(); o++) {
                HistoryModel.Overlay over = overlays.get(o);
                XYSeries s = new XYSeries(over.name(), false, true);
                for (CurvePoint p : over.cascade().points()) {
                    s.add(x(p), 100 * p.accuracy(), false);
                }
                data.addSeries(s);
                int idx = data.getSeriesCount() - 1;
                r.setSeriesPaint(idx, greys[o % greys.length]);
                r.setSeriesStroke(idx, new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 1f,
                        new float[] {7f, 5f}, 0f));
                r.setSeriesShape(idx, new Ellipse2D.Double(-2, -2, 4, 4));
            }
            Evaluation ev = model.evaluation().get();
            if (ev != null) {
                CascadeResult fin = ev.cascade().finalOnly();
                XYSeries ref = new XYSeries(ev.finalExitName(), false, true);
                ref.add(model.curvesInMacs().get() ? fin.meanMacs() / 1e6 : fin.meanMs(), 100 * fin.accuracy(), false);
                data.addSeries(ref);
                int idx = data.getSeriesCount() - 1;
                r.setSeriesPaint(idx, new Color(0xd62728));
                r.setSeriesShape(idx, new java.awt.Rectangle(-5, -5, 10, 10));
                r.setSeriesLinesVisible(idx, false);
                double generic = model.genericAccuracy().get();
                if (!Double.isNaN(generic) && model.resultsFinal().get()) {
                    XYSeries g = new XYSeries(GENERIC, false, true);
                    double cost = model.curvesInMacs().get() ? ev.backbone().totalMacs() / 1e6
                            : ev.profile().backboneMs() + ev.profile().classifierMs();
                    g.add(cost, 100 * generic, false);
                    data.addSeries(g);
                    int gi = data.getSeriesCount() - 1;
                    r.setSeriesPaint(gi, Color.GRAY);
                    r.setSeriesShape(gi, new java.awt.Polygon(new int[] {0, 6, -6}, new int[] {-6, 5, 5}, 3));
                    r.setSeriesLinesVisible(gi, false);
                }
            }
            if (ev != null && ev.validationLabelledCascade() != null
                    && ev.validationLabelledCascade().predictions().labelled() && !model.scoredOutOfFold()) {
                // where the same thresholds stand on the training photos out of fold, which the operating point was
                // chosen on, joined to where they stand on the test photos (without test photos the curves are
                // those out-of-fold predictions themselves: no series, no legend entry)
                XYSeries oof = new XYSeries(OUT_OF_FOLD, false, true);
                data.addSeries(oof);
                int vi = data.getSeriesCount() - 1;
                r.setSeriesPaint(vi, new Color(0x555555));
                r.setSeriesShape(vi, new java.awt.Polygon(new int[] {0, 7, 0, -7}, new int[] {-7, 0, 7, 0}, 4));
                r.setSeriesShapesFilled(vi, false);
                r.setSeriesOutlineStroke(vi, new BasicStroke(2f));
                r.setSeriesStroke(vi, new BasicStroke(1.4f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 1f,
                        new float[] {4f, 4f}, 0f));
            }
            XYSeries op = new XYSeries("operating point", false, true);
            data.addSeries(op);
            int oi = data.getSeriesCount() - 1;
            r.setSeriesPaint(oi, new Color(0xd62728));
            r.setSeriesShape(oi, new Ellipse2D.Double(-9, -9, 18, 18));
            r.setSeriesShapesFilled(oi, false);
            // an unfilled shape is drawn with the outline stroke (the series stroke is for lines): 1 px before
            r.setSeriesOutlineStroke(oi, new BasicStroke(3f));
            r.setSeriesLinesVisible(oi, false);
            plot.setRenderer(r);
            // series in the order added: the cascade over the exits, the final exit, generic and the operating
            // point on top (JFreeChart draws the first series last by default, which hid the operating point's ring
            // under the exits' points)
            plot.setSeriesRenderingOrder(org.jfree.chart.plot.SeriesRenderingOrder.FORWARD);
            fillMarker(op);
            fitAccuracyAxis();
        } finally {
            renderSoon();
        }
        metrics.refresh();
    }

    private void redrawMarker() {
        int idx = data.getSeriesIndex("operating point");
        if (idx < 0) {
            return;
        }
        chart.setNotify(false);
        fillMarker(data.getSeries(idx));
        fitAccuracyAxis();
        renderSoon();
    }

    /** The legend's name of the backbone's own classifier on the test photos. */
    static final String GENERIC = "generic backbone";

    /** A generic backbone this many points below every curve is not drawn to scale: it would flatten the curves. */
    static final double GENERIC_FAR_POINTS = 15;

    /**
     * Fits the accuracy axis to the curves and markers. The generic backbone is usually far below them (tilted-phone
     * 30.6 % against 50-75 %; night-owl 30.5 % against 83-91 %, which left the curves a strip at the top of the
     * plot): then the axis leaves it out and a note at the bottom edge, under its place, gives its accuracy.
     */
    private void fitAccuracyAxis() {
        XYPlot plot = chart.getXYPlot();
        org.jfree.chart.axis.NumberAxis y = (org.jfree.chart.axis.NumberAxis) plot.getRangeAxis();
        plot.clearAnnotations();
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        double generic = Double.NaN;
        double genericX = Double.NaN;
        for (int s = 0; s < data.getSeriesCount(); s++) {
            XYSeries series = data.getSeries(s);
            boolean isGeneric = GENERIC.equals(series.getKey());
            for (int i = 0; i < series.getItemCount(); i++) {
                double v = series.getY(i).doubleValue();
                if (isGeneric) {
                    generic = v;
                    genericX = series.getX(i).doubleValue();
                } else if (Double.isFinite(v)) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
            }
        }
        if (!Double.isFinite(lo) || Double.isNaN(generic) || generic >= lo - GENERIC_FAR_POINTS) {
            y.setAutoRange(true);
            return;
        }
        double pad = Math.max(1.0, 0.08 * (hi - lo));
        y.setRange(lo - 2 * pad, hi + pad);
        org.jfree.chart.annotations.XYTextAnnotation note = new org.jfree.chart.annotations.XYTextAnnotation(
                String.format(Locale.ROOT, "▼ %s %.1f%%", GENERIC, generic), genericX, lo - 2 * pad);
        note.setTextAnchor(org.jfree.chart.ui.TextAnchor.BOTTOM_RIGHT);
        note.setPaint(Color.DARK_GRAY);
        note.setFont(new java.awt.Font("SansSerif", java.awt.Font.PLAIN, 11));
        plot.addAnnotation(note, false);
    }

    /** The chart's note for a generic backbone below the accuracy axis, or null when it is drawn to scale. */
    String genericNote() {
        return chart.getXYPlot().getAnnotations().stream()
                .filter(a -> a instanceof org.jfree.chart.annotations.XYTextAnnotation)
                .map(a -> ((org.jfree.chart.annotations.XYTextAnnotation) a).getText())
                .filter(t -> t.contains(GENERIC)).findFirst().orElse(null);
    }

    /** The legend's name of the current thresholds on the training photos, out of fold. */
    static final String OUT_OF_FOLD = "same thresholds, training photos out of fold";

    private boolean renderPending;

    /**
     * Renders the chart once, a frame after everything queued so far: a finished run changes the curves, the
     * operating point and the marker in one go, and each change would otherwise redraw the whole chart (60-100 ms
     * each under software rendering). Waiting for the second pulse keeps the render out of the frame that lays out
     * what the same change did to the table and the backbone graph (together they made one 130-ms stall).
     */
    private void renderSoon() {
        if (renderPending) {
            return;
        }
        renderPending = true;
        Frames.after(2, () -> {
            renderPending = false;
            chart.setNotify(true);
        });
    }

    private void fillMarker(XYSeries op) {
        op.clear();
        CascadeResult c = model.current().get();
        if (c != null) {
            op.add(model.curvesInMacs().get() ? c.meanMacs() / 1e6 : c.meanMs(), 100 * c.accuracy());
        }
        int vi = data.getSeriesIndex(OUT_OF_FOLD);
        if (vi >= 0) {
            XYSeries oof = data.getSeries(vi);
            oof.clear();
            CascadeResult v = model.currentOutOfFold().get();
            if (v != null && c != null && !Double.isNaN(v.accuracy())) {
                oof.add(model.curvesInMacs().get() ? v.meanMacs() / 1e6 : v.meanMs(), 100 * v.accuracy(), false);
                oof.add(model.curvesInMacs().get() ? c.meanMacs() / 1e6 : c.meanMs(), 100 * c.accuracy());
            }
        }
    }

    /** A click on a curve point selects that threshold (for one exit, or for all on the cascade curve). */
    private void pick(ChartEntity entity) {
        if (!(entity instanceof XYItemEntity item) || curves.isEmpty()) {
            return;
        }
        int s = item.getSeriesIndex();
        if (s >= curves.size()) {
            return;
        }
        Curve c = curves.get(s);
        double t = c.points().get(item.getItem()).threshold();
        if (c.exit() < 0) {
            controller.setGlobalThreshold(Math.min(t, ThresholdSweep.OFF));
        } else {
            String key = c.name();
            model.exits().stream().filter(e -> e.key().equals(key)).findFirst()
                    .ifPresent(e -> e.thresholdProperty().set(t));
            model.exits().stream().filter(e -> e.key().equals(key)).findFirst().ifPresent(model.selectedExit()::set);
        }
    }
}
