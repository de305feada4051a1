package org.persephonee.views;

import javafx.beans.binding.Bindings;
import javafx.collections.FXCollections;
import javafx.collections.ObservableList;
import javafx.geometry.Insets;
import javafx.geometry.Pos;
import javafx.scene.Node;
import javafx.scene.control.Label;
import javafx.scene.control.Slider;
import javafx.scene.control.SplitPane;
import javafx.scene.control.TableColumn;
import javafx.scene.control.TableView;
import javafx.scene.control.ToggleButton;
import javafx.scene.control.ToggleGroup;
import javafx.scene.layout.HBox;
import javafx.scene.layout.Priority;
import javafx.scene.layout.VBox;
import javafx.scene.control.Button;
import javafx.beans.property.ReadOnlyObjectWrapper;
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
import org.persephonee.core.personalise.EvalPredictions;

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
    private final ObservableList<Row> rows = FXCollections.observableArrayList();
    private final Label summary = new Label("Personalise to see accuracy-vs-latency curves");
    private final Slider slider = new Slider(0, 1.0, 0.9);
    private List<Curve> curves = List.of();
    private boolean updatingSlider;

    /** Height of a metrics-table row and of its header, in px. */
    static final double ROW_PX = 24;
    static final double HEADER_PX = 26;

    /** One row of the metrics table. */
    public record Row(String exit, String accuracy, String loss, String threshold, String share, String ms) { }

    public CurvesPane(LabModel model, CurvesController controller, RunController run, HistoryController history) {
        this.model = model;
        this.controller = controller;
        this.run = run;
        this.history = history;
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

    private final java.util.concurrent.CompletableFuture<Void> warmed = new java.util.concurrent.CompletableFuture<>();
    private boolean warming;

    /**
     * Draws a throwaway chart of the same kind three times on a background thread, into an image (AWT, no JavaFX
     * node): the first draw of a chart with curves, shapes and a legend loads and runs chart code for the first time,
     * and in the lab it took 80 ms of the FX thread at a run's first epoch (12-25 ms after this warm-up, which costs
     * about 0.35 s of one core once). Called when the lab has started; later calls do nothing.
     */
    public void warmUp() {
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

    /** Completes when the warm-up has run (tests measure a started lab). */
    public java.util.concurrent.CompletableFuture<Void> warmed() {
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
            System.getLogger(CurvesPane.class.getName()).log(System.Logger.Level.DEBUG, "chart warm-up failed", e);
        }
    }

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
            boolean shared = !model.exits.isEmpty() && model.exits.stream()
                    .allMatch(e -> Math.abs(Math.min(1.0, e.threshold()) - t) < 1e-9);
            return shared || model.exits.isEmpty() ? String.format(Locale.ROOT, "threshold %.2f", t)
                    : "per-exit thresholds";
        }, slider.valueProperty(), model.exits));
        value.setId("threshold-value");
        value.setTooltip(new javafx.scene.control.Tooltip("The slider's figure when every exit uses it; otherwise the "
                + "exits have thresholds of their own (some may be off), and moving the slider sets one for all"));
        slider.valueProperty().addListener((o, a, b) -> {
            if (!updatingSlider) {
                controller.setGlobalThreshold(b.doubleValue());
            }
        });
        model.globalThreshold.addListener((o, a, b) -> {
            updatingSlider = true;
            slider.setValue(Math.min(1.0, b.doubleValue()));
            updatingSlider = false;
        });
        slider.disableProperty().bind(model.evaluation.isNull());
        HBox.setHgrow(slider, Priority.ALWAYS);
        ToggleButton ms = new ToggleButton("ms");
        ToggleButton macs = new ToggleButton("MACs");
        macs.setId("unit-macs");
        ToggleGroup g = new ToggleGroup();
        ms.setToggleGroup(g);
        macs.setToggleGroup(g);
        ms.setSelected(true);
        macs.selectedProperty().bindBidirectional(model.curvesInMacs);
        model.curvesInMacs.addListener((o, a, b) -> redraw());
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
        summary.setId("cascade-summary");
        summary.getStyleClass().add("summary");
        summary.setWrapText(true);
        summary.setMinHeight(javafx.scene.layout.Region.USE_PREF_SIZE);

        TableView<Row> table = new TableView<>(rows);
        table.setId("exit-metrics");
        table.getColumns().add(column("exit", Row::exit, 160));
        table.getColumns().add(column("accuracy alone", Row::accuracy, 110));
        table.getColumns().add(column("train loss", Row::loss, 80));
        table.getColumns().add(column("threshold", Row::threshold, 80));
        table.getColumns().add(column("share leaving", Row::share, 100));
        table.getColumns().add(column("ms if leaving", Row::ms, 100));
        table.setColumnResizePolicy(TableView.CONSTRAINED_RESIZE_POLICY);
        table.setPlaceholder(new Label("No results yet"));
        // rows of one height: without it the table asks every cell for its preferred height, which made the
        // table's first rows (at a run's first epoch) hold the FX thread for 90 ms
        table.setFixedCellSize(ROW_PX);
        // as tall as its rows (up to the space there is): a table filling the pane builds a dozen empty rows of
        // six cells each, and building them with the first real rows held the FX thread for 100 ms at the first epoch
        table.prefHeightProperty().bind(javafx.beans.binding.Bindings.createDoubleBinding(
                () -> HEADER_PX + ROW_PX * Math.max(2, rows.size()) + 2, rows));
        table.setMinHeight(HEADER_PX + ROW_PX * 2 + 2);
        table.setMaxHeight(javafx.scene.layout.Region.USE_PREF_SIZE);

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
        rerun.disableProperty().bind(model.running.or(javafx.beans.binding.Bindings.isEmpty(model.exits)));
        rerun.setMinWidth(javafx.scene.layout.Region.USE_PREF_SIZE);
        HBox stale = new HBox(8, staleNote, rerun);
        stale.getStyleClass().add("stale-note");
        stale.setStyle("-fx-background-color: #fff3cd; -fx-padding: 6; -fx-alignment: center-left;");
        HBox.setHgrow(staleNote, Priority.ALWAYS);
        stale.visibleProperty().bind(model.curvesStale);
        stale.managedProperty().bind(model.curvesStale);
        viewer.opacityProperty().bind(javafx.beans.binding.Bindings.when(model.curvesStale).then(0.35).otherwise(1.0));
        VBox top = new VBox(stale, viewer);
        VBox.setVgrow(viewer, Priority.ALWAYS);
        VBox bottom = new VBox(4, controls, compareRow(), summary, table);
        VBox.setVgrow(table, Priority.SOMETIMES);
        SplitPane split = new SplitPane(top, bottom);
        split.setOrientation(javafx.geometry.Orientation.VERTICAL);
        split.setDividerPositions(0.62);
        model.evaluation.addListener((o, a, b) -> {
            curves = b == null ? List.of() : b.curves();
            redraw();
        });
        model.current.addListener((o, a, b) -> {
            redrawMarker();
            refreshTable();
        });
        model.exits.addListener((javafx.collections.ListChangeListener<ExitModel>) c -> refreshTable());
        model.liveStats.addListener((javafx.collections.ListChangeListener<org.persephonee.core.personalise.ExitStats>)
                c -> refreshTable());
        return split;
    }

    /** "Compare with an earlier run": a kept run's cascade drawn dashed over the current curves. */
    private Node compareRow() {
        javafx.scene.control.ComboBox<org.persephonee.core.workspace.RunHistory.Entry> runs =
                new javafx.scene.control.ComboBox<>(history.model().runs());
        runs.setId("compare-run");
        runs.setPromptText("none");
        runs.setMaxWidth(Double.MAX_VALUE);
        runs.setConverter(new javafx.util.StringConverter<>() {
            @Override
            public String toString(org.persephonee.core.workspace.RunHistory.Entry e) {
                return e == null ? "" : HistoryController.describe(e);
            }

            @Override
            public org.persephonee.core.workspace.RunHistory.Entry fromString(String s) {
                return null;
            }
        });
        runs.valueProperty().addListener((o, a, b) -> history.overlay(b));
        javafx.scene.control.Button clear = new javafx.scene.control.Button("\u2715");
        clear.setTooltip(new javafx.scene.control.Tooltip("Draw no earlier run"));
        clear.setOnAction(e -> runs.setValue(null));
        clear.disableProperty().bind(runs.valueProperty().isNull());
        javafx.scene.control.Button regimes = new javafx.scene.control.Button("Compare label regimes");
        regimes.setId("compare-regimes");
        regimes.setTooltip(new javafx.scene.control.Tooltip("Run the placed exits without labels, with about 10 % "
                + "of the training photos labelled and with every label, and draw the three cascades together"));
        regimes.setOnAction(e -> history.compareLabelRegimes());
        regimes.disableProperty().bind(model.running.or(model.backbone.isNull())
                .or(javafx.beans.binding.Bindings.isEmpty(model.exits)));
        regimes.setMinWidth(javafx.scene.layout.Region.USE_PREF_SIZE);
        history.model().comparison().addListener((javafx.beans.InvalidationListener) o -> redraw());
        Label title = new Label("Compare with an earlier run");
        title.setMinWidth(javafx.scene.layout.Region.USE_PREF_SIZE);
        HBox.setHgrow(runs, Priority.ALWAYS);
        HBox row = new HBox(8, title, runs, clear, regimes);
        row.setAlignment(Pos.CENTER_LEFT);
        row.setPadding(new Insets(0, 8, 0, 8));
        history.model().overlay().addListener((o, a, b) -> redraw());
        return row;
    }

    private static TableColumn<Row, String> column(String name, java.util.function.Function<Row, String> f, double w) {
        TableColumn<Row, String> c = new TableColumn<>(name);
        c.setCellValueFactory(cd -> new ReadOnlyObjectWrapper<>(f.apply(cd.getValue())));
        c.setPrefWidth(w);
        return c;
    }

    private double x(CurvePoint p) {
        return model.curvesInMacs.get() ? p.macs() / 1e6 : p.ms();
    }

    /** Rebuilds every series (batched: one notification at the end). */
    private void redraw() {
        chart.setNotify(false);
        try {
            data.removeAllSeries();
            XYPlot plot = chart.getXYPlot();
            plot.getDomainAxis().setLabel(model.curvesInMacs.get() ? "MACs per image (millions)" : "latency per image (ms)");
            XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, true);
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
            Evaluation ev = model.evaluation.get();
            if (ev != null) {
                CascadeResult fin = ev.cascade().finalOnly();
                XYSeries ref = new XYSeries("personalised final exit", false, true);
                ref.add(model.curvesInMacs.get() ? fin.meanMacs() / 1e6 : fin.meanMs(), 100 * fin.accuracy(), false);
                data.addSeries(ref);
                int idx = data.getSeriesCount() - 1;
                r.setSeriesPaint(idx, new Color(0xd62728));
                r.setSeriesShape(idx, new java.awt.Rectangle(-5, -5, 10, 10));
                r.setSeriesLinesVisible(idx, false);
                double generic = model.genericAccuracy.get();
                if (!Double.isNaN(generic) && model.resultsFinal.get()) {
                    XYSeries g = new XYSeries("generic backbone", false, true);
                    double cost = model.curvesInMacs.get() ? ev.backbone().totalMacs() / 1e6
                            : ev.profile().backboneMs() + ev.profile().classifierMs();
                    g.add(cost, 100 * generic, false);
                    data.addSeries(g);
                    int gi = data.getSeriesCount() - 1;
                    r.setSeriesPaint(gi, Color.GRAY);
                    r.setSeriesShape(gi, new java.awt.Polygon(new int[] {0, 6, -6}, new int[] {-6, 5, 5}, 3));
                    r.setSeriesLinesVisible(gi, false);
                }
            }
            XYSeries op = new XYSeries("operating point", false, true);
            data.addSeries(op);
            int oi = data.getSeriesCount() - 1;
            r.setSeriesPaint(oi, new Color(0xd62728));
            r.setSeriesShape(oi, new Ellipse2D.Double(-8, -8, 16, 16));
            r.setSeriesShapesFilled(oi, false);
            r.setSeriesStroke(oi, new BasicStroke(2.5f));
            r.setSeriesLinesVisible(oi, false);
            plot.setRenderer(r);
            fillMarker(op);
        } finally {
            renderSoon();
        }
        refreshTable();
    }

    private void redrawMarker() {
        int idx = data.getSeriesIndex("operating point");
        if (idx < 0) {
            return;
        }
        chart.setNotify(false);
        fillMarker(data.getSeries(idx));
        renderSoon();
    }

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
        new javafx.animation.AnimationTimer() {
            private int pulses;

            @Override
            public void handle(long now) {
                if (++pulses < 2) {
                    return;
                }
                stop();
                renderPending = false;
                chart.setNotify(true);
            }
        }.start();
    }

    private void fillMarker(XYSeries op) {
        op.clear();
        CascadeResult c = model.current.get();
        if (c != null) {
            op.add(model.curvesInMacs.get() ? c.meanMacs() / 1e6 : c.meanMs(), 100 * c.accuracy());
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
            model.exits.stream().filter(e -> e.key().equals(key)).findFirst()
                    .ifPresent(e -> e.thresholdProperty().set(t));
            model.exits.stream().filter(e -> e.key().equals(key)).findFirst().ifPresent(model.selectedExit::set);
        }
    }

    /** The latest training loss of an exit ({@code stage:head}), from the live epoch stats. */
    private String loss(String key) {
        for (org.persephonee.core.personalise.ExitStats st : model.liveStats) {
            if (st.key().equals(key) && !Double.isNaN(st.trainLoss())) {
                return String.format(Locale.ROOT, "%.3f", st.trainLoss());
            }
        }
        return "–";
    }

    private void refreshTable() {
        Evaluation ev = model.evaluation.get();
        CascadeResult cur = model.current.get();
        List<Row> out = new ArrayList<>();
        if (ev == null || cur == null) {
            rows.clear();
            summary.setText(model.running.get() ? "Curves appear after the first epoch"
                    : "Personalise to see accuracy-vs-latency curves");
            return;
        }
        EvalPredictions p = ev.cascade().predictions();
        List<String> names = ev.exitNames();
        for (int j = 0; j < names.size(); j++) {
            int pos = -1;
            for (int q = 0; q < cur.exits().length; q++) {
                if (cur.exits()[q] == j) {
                    pos = q;
                }
            }
            double leaveMs = pos < 0 ? Double.NaN : ev.cascade().ms().leaveAt(cur.exits(), pos);
            out.add(new Row(names.get(j), String.format(Locale.ROOT, "%.1f%%", 100 * p.accuracy(p.exit(j))),
                    loss(names.get(j)),
                    pos < 0 ? "off" : String.format(Locale.ROOT, "%.2f", cur.thresholds()[pos]),
                    pos < 0 ? "–" : String.format(Locale.ROOT, "%.1f%%", 100 * cur.share()[pos]),
                    pos < 0 ? "–" : String.format(Locale.ROOT, "%.2f", leaveMs)));
        }
        CascadeResult fin = ev.cascade().finalOnly();
        out.add(new Row("final", String.format(Locale.ROOT, "%.1f%%", 100 * fin.accuracy()), "–", "–",
                String.format(Locale.ROOT, "%.1f%%", 100 * cur.share()[cur.share().length - 1]),
                String.format(Locale.ROOT, "%.2f", ev.cascade().ms().leaveAt(cur.exits(), cur.exits().length))));
        rows.setAll(out);
        summary.setText(String.format(Locale.ROOT, "Cascade: %.1f%% accuracy at %.2f ms (%.2fx faster, %.2fx fewer "
                        + "MACs than the personalised final exit at %.1f%%)%s", 100 * cur.accuracy(), cur.meanMs(),
                fin.meanMs() / cur.meanMs(), fin.meanMacs() / cur.meanMacs(), 100 * fin.accuracy(),
                model.resultsFinal.get() ? "" : " — live, training continues"));
    }
}
