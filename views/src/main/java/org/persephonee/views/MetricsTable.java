package org.persephonee.views;

import javafx.beans.property.ReadOnlyObjectWrapper;
import javafx.collections.FXCollections;
import javafx.collections.ObservableList;
import javafx.scene.control.Label;
import javafx.scene.control.TableColumn;
import javafx.scene.control.TableView;
import org.persephonee.core.eval.CascadeResult;
import org.persephonee.core.eval.Evaluation;
import org.persephonee.core.personalise.EvalPredictions;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The metrics table under the curves (per exit: accuracy alone, training loss, threshold, share leaving, ms if
 * leaving; then the final exit) and the cascade's summary line, from the shown evaluation and cascade.
 */
final class MetricsTable {
    /** Height of a metrics-table row and of its header, in px. */
    static final double ROW_PX = 24;
    static final double HEADER_PX = 26;

    /** One row of the metrics table. */
    public record Row(String exit, String accuracy, String loss, String threshold, String share, String ms) { }

    private final LabModel model;
    private final ObservableList<Row> rows = FXCollections.observableArrayList();
    private final Label summary = new Label("Personalise to see accuracy-vs-latency curves");
    private final TableView<Row> table;

    MetricsTable(LabModel model) {
        this.model = model;
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
        this.table = table;
    }

    /** The cascade's summary line. */
    Label summary() { return summary; }

    /** The table. */
    TableView<Row> table() { return table; }

    private static TableColumn<Row, String> column(String name, java.util.function.Function<Row, String> f, double w) {
        TableColumn<Row, String> c = new TableColumn<>(name);
        c.setCellValueFactory(cd -> new ReadOnlyObjectWrapper<>(f.apply(cd.getValue())));
        c.setPrefWidth(w);
        return c;
    }

    /** The latest training loss of an exit ({@code stage:head}), from the live epoch stats. */
    private String loss(String key) {
        for (org.persephonee.core.personalise.ExitStats st : model.liveStats()) {
            if (st.key().equals(key) && !Double.isNaN(st.trainLoss())) {
                return String.format(Locale.ROOT, "%.3f", st.trainLoss());
            }
        }
        return "–";
    }

    /** Fills the rows and the summary from the model. */
    void refresh() {
        Evaluation ev = model.evaluation().get();
        CascadeResult cur = model.current().get();
        List<Row> out = new ArrayList<>();
        if (ev == null || cur == null) {
            rows.clear();
            summary.setText(model.running().get() ? "Curves appear after the first epoch"
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
        // how far a few hundred test photos pin the accuracy down (95 % Wilson interval), where they are labelled
        String ci = "";
        if (p.labelled() && !Double.isNaN(cur.accuracy())) {
            int n = p.scoredCount();
            double[] w = org.persephonee.core.eval.PairedComparison.wilson(cur.accuracy(), n);
            ci = String.format(Locale.ROOT, " (95%% interval %.1f-%.1f%% on %d %s%s)", 100 * w[0], 100 * w[1], n,
                    model.scoredOutOfFold() ? "labelled " : "", model.scoredPhotos());
        }
        // the same thresholds on what the operating point is chosen on: the labelled training photos, out of fold
        CascadeResult oof = model.currentOutOfFold().get();
        String chosenOn = "";
        if (oof != null && !Double.isNaN(oof.accuracy()) && ev.validationLabelledCascade() != null) {
            CascadeResult oofFinal = ev.validationLabelledCascade().finalOnly();
            chosenOn = String.format(Locale.ROOT, "; out of fold on %d labelled training photos: %.1f%% (%s %.1f%%)",
                    ev.validationLabelledCascade().predictions().scoredCount(), 100 * oof.accuracy(),
                    ev.finalExitName(), 100 * oofFinal.accuracy());
        }
        summary.setText(String.format(Locale.ROOT, "Cascade: %.1f%% accuracy%s at %.2f ms (%.2fx faster, %.2fx fewer "
                        + "MACs than the %s at %.1f%%)%s%s", 100 * cur.accuracy(), ci, cur.meanMs(),
                fin.meanMs() / cur.meanMs(), fin.meanMacs() / cur.meanMacs(), ev.finalExitName(), 100 * fin.accuracy(),
                chosenOn, model.resultsFinal().get() ? "" : " — live, training continues"));
    }
}
