package org.persephonee.views;

import javafx.beans.InvalidationListener;
import javafx.geometry.Insets;
import javafx.geometry.Pos;
import javafx.scene.Node;
import javafx.scene.control.Button;
import javafx.scene.control.Label;
import javafx.scene.control.ProgressBar;
import javafx.scene.control.Spinner;
import javafx.scene.image.Image;
import javafx.scene.image.ImageView;
import javafx.scene.input.KeyCode;
import javafx.scene.input.KeyEvent;
import javafx.scene.layout.BorderPane;
import javafx.scene.layout.FlowPane;
import javafx.scene.layout.GridPane;
import javafx.scene.layout.HBox;
import javafx.scene.layout.Priority;
import javafx.scene.layout.Region;
import javafx.scene.layout.VBox;
import javafx.stage.FileChooser;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.fx.ChartViewer;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.persephonee.core.review.ReviewQueue;

import java.io.File;
import java.util.Locale;

/**
 * The Review tab: one photo at a time from the review queue, large, with the run's three guesses and the exit that
 * would take it; number keys label it, Enter takes the first guess, Backspace skips, Left goes back. Below, the labels
 * until the next background re-fit and the accuracy after each run against the labels it had.
 */
public final class ReviewPane {
    private static final double SIDE = 256;

    private final ReviewModel model;
    private final ReviewController controller;
    private final DataController data;
    private final LabModel lab;
    private final ImageView photo = new ImageView();
    private final Label caption = new Label();
    private final VBox guesses = new VBox(6);
    /** The workspace's kept runs, newest first (the timeline). */
    private final javafx.collections.ObservableList<org.persephonee.core.workspace.RunHistory.Entry> runs;
    private final FlowPane choices = new FlowPane(6, 6);
    private BorderPane root;

    public ReviewPane(LabModel lab, ReviewController controller, DataController data,
                      javafx.collections.ObservableList<org.persephonee.core.workspace.RunHistory.Entry> runs) {
        this.lab = lab;
        this.model = controller.model();
        this.controller = controller;
        this.data = data;
        this.runs = runs;
    }

    /** The tab's content. */
    public Node build() {
        Label message = new Label();
        message.textProperty().bind(model.message());
        message.setWrapText(true);
        message.setId("review-message");

        photo.setFitWidth(SIDE);
        photo.setFitHeight(SIDE);
        photo.setPreserveRatio(true);
        photo.setSmooth(false);
        photo.setId("review-photo");
        VBox left = new VBox(8, photo, caption);
        left.setMinWidth(SIDE);
        caption.setId("review-caption");
        caption.setWrapText(true);
        caption.setMaxWidth(SIDE);

        Button accept = button("Accept first guess (Enter)", controller::accept);
        Button skip = button("Skip (Backspace)", controller::skip);
        Button back = button("\u2190 Back", controller::back);
        Label guessTitle = new Label("The exits' guesses");
        guessTitle.getStyleClass().add("section-title");
        Label labelTitle = new Label("Label as");
        labelTitle.getStyleClass().add("section-title");
        VBox right = new VBox(10, guessTitle, guesses, labelTitle, choices, new HBox(8, accept, skip, back));
        HBox.setHgrow(right, Priority.ALWAYS);
        HBox center = new HBox(20, left, right);
        center.setPadding(new Insets(12));

        Spinner<Integer> every = new Spinner<>(1, 500, model.refitEvery().get());
        every.setPrefWidth(80);
        every.setFocusTraversable(false);
        every.valueProperty().addListener((o, a, b) -> model.refitEvery().set(b));
        Label untilRefit = new Label();
        untilRefit.setId("review-refit");
        untilRefit.getStyleClass().add("hint");
        InvalidationListener refit = o -> untilRefit.setText(String.format(Locale.ROOT, "(%d since the last)",
                model.sinceRefit().get()));
        model.sinceRefit().addListener(refit);
        refit.invalidated(null);
        Button write = button("Write labels.csv\u2026", this::writeLabels);
        write.setMinWidth(Region.USE_PREF_SIZE);
        Region gap = new Region();
        HBox.setHgrow(gap, Priority.ALWAYS);
        HBox settings = new HBox(8, new Label("Re-fit the exits in the background every"), every, new Label("labels"),
                untilRefit, gap, write);
        settings.setAlignment(Pos.CENTER_LEFT);

        ChartViewer viewer = historyChart(model.history());
        Label historyTitle = chartTitle("Accuracy after each run, by the labelled photos it had");
        Label timelineTitle = chartTitle("Every run kept here: accuracy and seconds to personalise");
        ChartViewer timelineViewer = new TimelineChart(runs).viewer();
        VBox reviewed = new VBox(8, historyTitle, viewer);
        VBox timeline = new VBox(8, timelineTitle, timelineViewer);
        // the charts take the height the photo and its keys leave (it was an empty band above them)
        VBox.setVgrow(viewer, Priority.ALWAYS);
        VBox.setVgrow(timelineViewer, Priority.ALWAYS);
        HBox.setHgrow(reviewed, Priority.ALWAYS);
        HBox.setHgrow(timeline, Priority.ALWAYS);
        reviewed.setPrefWidth(0);
        timeline.setPrefWidth(0);
        HBox charts = new HBox(16, reviewed, timeline);
        VBox.setVgrow(charts, Priority.ALWAYS);
        VBox bottom = new VBox(8, settings, charts);
        bottom.setPadding(new Insets(0, 12, 12, 12));

        VBox top = new VBox(message, center);
        VBox.setMargin(message, new Insets(12, 12, 0, 12));
        root = new BorderPane(bottom);
        root.setTop(top);
        root.setId("review-pane");
        root.setFocusTraversable(true);
        root.addEventFilter(KeyEvent.KEY_PRESSED, this::key);
        root.setOnMouseClicked(e -> root.requestFocus());

        InvalidationListener show = o -> show();
        model.position().addListener(show);
        model.queue().addListener(show);
        model.choices().addListener(show);
        show();
        return root;
    }

    /**
     * The accuracy after each run against the labelled photos it had, with 95 % whiskers; redrawn when
     * {@code history} changes.
     */
    static ChartViewer historyChart(javafx.collections.ObservableList<ReviewModel.Point> history) {
        org.jfree.data.xy.YIntervalSeries accuracy = new org.jfree.data.xy.YIntervalSeries("accuracy");
        org.jfree.data.xy.YIntervalSeriesCollection ds = new org.jfree.data.xy.YIntervalSeriesCollection();
        ds.addSeries(accuracy);
        JFreeChart chart = ChartFactory.createXYLineChart(null, "labelled training photos", "accuracy (%)", ds,
                PlotOrientation.VERTICAL, false, true, false);
        XYPlot plot = chart.getXYPlot();
        // whiskers: the 95 % interval, so ten more labels that move the accuracy by a point read as the noise they are
        var renderer = new org.jfree.chart.renderer.xy.XYErrorRenderer();
        renderer.setDrawXError(false);
        renderer.setDefaultLinesVisible(true);
        renderer.setDefaultShapesVisible(true);
        plot.setRenderer(renderer);
        plot.setBackgroundPaint(java.awt.Color.WHITE);
        plot.setRangeGridlinePaint(java.awt.Color.LIGHT_GRAY);
        // one run is one point: without a minimum range the axes collapsed onto it and labelled every tick "7.0625E1"
        org.jfree.chart.axis.NumberAxis y = (org.jfree.chart.axis.NumberAxis) plot.getRangeAxis();
        y.setAutoRangeIncludesZero(false);
        y.setAutoRangeMinimumSize(10);
        org.jfree.chart.axis.NumberAxis x = (org.jfree.chart.axis.NumberAxis) plot.getDomainAxis();
        x.setAutoRangeIncludesZero(false);
        // the run without labels is a point at 0: a sticky zero drew it half hidden on the axis line
        x.setAutoRangeStickyZero(false);
        x.setAutoRangeMinimumSize(20);
        x.setStandardTickUnits(org.jfree.chart.axis.NumberAxis.createIntegerTickUnits());
        ChartViewer viewer = new ChartViewer(chart);
        viewer.setPrefSize(420, 180);
        viewer.setMinHeight(160);
        viewer.setId("review-history");
        plot.setNoDataMessage("No run yet");
        InvalidationListener redraw = o -> {
            accuracy.clear();
            for (ReviewModel.Point p : history) {
                double a = 100 * p.accuracy();
                double[] w = p.images() > 0 ? org.persephonee.core.eval.PairedComparison.wilson(p.accuracy(), p.images())
                        : new double[] {p.accuracy(), p.accuracy()};
                accuracy.add(p.labels(), a, 100 * w[0], 100 * w[1]);
            }
            if (accuracy.getItemCount() == 0) {
                // no points: plain axes (the automatic ones were centred on 0: "-5 labelled photos", "-4 %")
                x.setRange(0, 20);
                y.setRange(0, 100);
            } else {
                x.setAutoRange(true);
                y.setAutoRange(true);
            }
        };
        history.addListener(redraw);
        redraw.invalidated(null);
        return viewer;
    }

    /** A chart's title: wraps onto a second line rather than ending in "..." when the pane is narrow. */
    private static Label chartTitle(String text) {
        Label l = new Label(text);
        l.getStyleClass().add("section-title");
        l.setWrapText(true);
        l.setMinHeight(Region.USE_PREF_SIZE);
        return l;
    }

    /** Gives the keys to the queue (when its tab is selected). */
    public void focus() {
        if (root != null) {
            root.requestFocus();
        }
    }

    private void key(KeyEvent e) {
        if (e.getTarget() instanceof javafx.scene.control.TextInputControl) {
            return;
        }
        KeyCode k = e.getCode();
        if (k.isDigitKey()) {
            String t = e.getText();
            int d = t != null && t.length() == 1 && Character.isDigit(t.charAt(0)) ? t.charAt(0) - '0'
                    : k.getCode() - (k.getCode() >= KeyCode.NUMPAD0.getCode() ? KeyCode.NUMPAD0.getCode()
                    : KeyCode.DIGIT0.getCode());
            controller.pick(d);
        } else if (k == KeyCode.ENTER) {
            controller.accept();
        } else if (k == KeyCode.BACK_SPACE) {
            controller.skip();
        } else if (k == KeyCode.LEFT) {
            controller.back();
        } else if (k == KeyCode.RIGHT) {
            controller.skip();
        } else {
            return;
        }
        e.consume();
    }

    private void show() {
        ReviewModel.Item it = model.current();
        guesses.getChildren().clear();
        choices.getChildren().clear();
        for (int k = 0; k < model.choices().size(); k++) {
            int key = k == 9 ? 0 : k + 1;
            String cls = model.choices().get(k);
            Button b = button(key + "  " + cls, () -> controller.pick(key));
            b.setId("review-choice-" + key);
            if (it != null && cls.equals(it.image().label())) {
                b.setStyle("-fx-font-weight: bold;");
            }
            choices.getChildren().add(b);
        }
        if (it == null) {
            photo.setImage(null);
            caption.setText(model.queue().isEmpty() ? "" : "Reviewed to the end of the queue.");
            return;
        }
        photo.setImage(new Image(it.image().path().toUri().toString(), SIDE, SIDE, true, false, true));
        String label = it.image().label();
        caption.setText(String.format(Locale.ROOT, "%s\nphoto %d of %d \u00b7 would leave at %s%s",
                it.image().path().getFileName(), model.position().get() + 1, model.queue().size(), it.exit(),
                label == null ? "" : "\nlabelled '" + label + "'"));
        GridPane g = new GridPane();
        g.setHgap(8);
        g.setVgap(4);
        int row = 0;
        for (ReviewQueue.Guess guess : it.guesses()) {
            ProgressBar bar = new ProgressBar(guess.confidence());
            bar.setPrefWidth(160);
            g.addRow(row++, new Label(guess.label()), bar,
                    new Label(String.format(Locale.ROOT, "%.0f %%", 100 * guess.confidence())));
        }
        guesses.getChildren().add(g);
    }

    private void writeLabels() {
        FileChooser c = new FileChooser();
        c.setTitle("Write the training photos' labels");
        c.setInitialFileName("labels.csv");
        c.getExtensionFilters().add(new FileChooser.ExtensionFilter("CSV", "*.csv"));
        File f = c.showSaveDialog(root.getScene() == null ? null : root.getScene().getWindow());
        if (f != null) {
            data.writeLabels(f.toPath());
        }
    }

    private static Button button(String text, Runnable action) {
        Button b = new Button(text);
        b.setFocusTraversable(false);
        b.setOnAction(e -> action.run());
        return b;
    }
}
