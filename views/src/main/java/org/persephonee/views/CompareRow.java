package org.persephonee.views;

import javafx.geometry.Insets;
import javafx.geometry.Pos;
import javafx.scene.Node;
import javafx.scene.control.Label;
import javafx.scene.layout.HBox;
import javafx.scene.layout.Priority;

/** The curves' comparison row: an earlier run to draw over the curves, and "Compare label regimes". */
final class CompareRow {
    private CompareRow() { }

    /** "Compare with an earlier run": a kept run's cascade drawn dashed over the current curves. */
    static Node build(LabModel model, HistoryController history) {
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
        regimes.disableProperty().bind(model.running().or(model.backbone().isNull())
                .or(javafx.beans.binding.Bindings.isEmpty(model.exits())));
        regimes.setMinWidth(javafx.scene.layout.Region.USE_PREF_SIZE);
        Label title = new Label("Compare with an earlier run");
        title.setMinWidth(javafx.scene.layout.Region.USE_PREF_SIZE);
        HBox.setHgrow(runs, Priority.ALWAYS);
        HBox row = new HBox(8, title, runs, clear, regimes);
        row.setAlignment(Pos.CENTER_LEFT);
        row.setPadding(new Insets(0, 8, 0, 8));
        return row;
    }

    /**
     * Under the row: the newest run against the earlier one drawn, and the label regimes against each other, image by
     * image (each line hidden when there is nothing to say).
     */
    static Node verdict(HistoryController history) {
        javafx.scene.layout.VBox box = new javafx.scene.layout.VBox(2,
                line("compare-verdict", history.model().comparisonText()),
                line("regimes-verdict", history.model().regimesText()));
        box.visibleProperty().bind(history.model().comparisonText().isNotEmpty()
                .or(history.model().regimesText().isNotEmpty()));
        box.managedProperty().bind(box.visibleProperty());
        return box;
    }

    private static Label line(String id, javafx.beans.property.StringProperty text) {
        Label l = new Label();
        l.setId(id);
        l.setWrapText(true);
        l.setMinHeight(javafx.scene.layout.Region.USE_PREF_SIZE);
        l.textProperty().bind(text);
        l.visibleProperty().bind(text.isNotEmpty());
        l.managedProperty().bind(l.visibleProperty());
        l.setPadding(new Insets(0, 8, 0, 8));
        return l;
    }
}
