package org.persephonee.views;

import javafx.geometry.Insets;
import javafx.geometry.Pos;
import javafx.scene.Node;
import javafx.scene.control.Button;
import javafx.scene.control.ComboBox;
import javafx.scene.control.Label;
import javafx.scene.control.Tooltip;
import javafx.scene.layout.GridPane;
import javafx.scene.layout.HBox;
import javafx.scene.layout.VBox;
import org.persephonee.core.eval.CascadeResult;
import org.persephonee.core.eval.Evaluation;
import org.persephonee.core.personalise.EvalPredictions;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.BiConsumer;

/**
 * Confusion matrix on the evaluation images of the operating point (each image as the exit that takes it classifies
 * it), of one exit or of the final exit; clicking a cell shows those images.
 */
public final class ConfusionPane {
    private final LabModel model;
    private final BiConsumer<List<Path>, String> showImages;
    private final ComboBox<String> exit = new ComboBox<>();
    private final GridPane grid = new GridPane();
    private final Label summary = new Label();
    static final String OPERATING_POINT = "operating point";

    public ConfusionPane(LabModel model, BiConsumer<List<Path>, String> showImages) {
        this.model = model;
        this.showImages = showImages;
    }

    /** The matrix needs drawing again, once the pane shows (live epochs replace the evaluation often). */
    private boolean dirty = true;
    private boolean filling;

    public Node build() {
        exit.setId("confusion-exit");
        exit.valueProperty().addListener((o, a, b) -> {
            if (!filling) {
                redrawSoon();
            }
        });
        model.evaluation().addListener((o, a, b) -> {
            String keep = exit.getValue();
            List<String> names = new ArrayList<>();
            if (b != null) {
                names.addAll(b.exitNames());
            }
            names.add("final");
            // what would be deployed comes first, and is what the pane opens on
            names.add(0, OPERATING_POINT);
            filling = true;
            try {
                if (!names.equals(exit.getItems())) {
                    exit.getItems().setAll(names);
                }
                exit.setValue(keep != null && names.contains(keep) ? keep : OPERATING_POINT);
            } finally {
                filling = false;
            }
            redrawSoon();
        });
        // a threshold moved on the curves moves the operating point's matrix
        model.current().addListener((o, a, b) -> {
            if (OPERATING_POINT.equals(exit.getValue())) {
                redrawSoon();
            }
        });
        grid.setId("confusion-grid");
        summary.setId("confusion-summary");
        grid.setHgap(2);
        grid.setVgap(2);
        Label hint = new Label("Rows: true class · columns: predicted class · click a cell to see its images");
        hint.getStyleClass().add("hint");
        HBox top = new HBox(8, new Label("Exit"), exit);
        top.setAlignment(Pos.CENTER_LEFT);
        VBox box = new VBox(10, top, hint, grid, summary);
        box.setPadding(new Insets(12));
        return box;
    }

    private boolean showing = true;

    /**
     * Whether the pane is on screen (its tab selected). The matrix is drawn only then: every live epoch replaces
     * the evaluation, and rebuilding k x k buttons there cost the FX thread 100-120 ms per epoch, hidden or not.
     */
    public void setShowing(boolean showing) {
        this.showing = showing;
        if (showing && dirty) {
            redraw();
        }
    }

    private void redrawSoon() {
        dirty = true;
        if (showing) {
            redraw();
        }
    }

    private void redraw() {
        dirty = false;
        grid.getChildren().clear();
        summary.setText("");
        Evaluation ev = model.evaluation().get();
        String which = exit.getValue();
        if (ev == null || which == null) {
            grid.add(new Label("Personalise to see confusion matrices"), 0, 0);
            return;
        }
        EvalPredictions p = ev.cascade().predictions();
        if (!p.labelled()) {
            grid.add(new Label("The evaluation images have no labels: nothing to compare with"), 0, 0);
            return;
        }
        CascadeResult op = model.current().get();
        float[][] probs;
        if (OPERATING_POINT.equals(which)) {
            if (op == null) {
                grid.add(new Label("No operating point yet"), 0, 0);
                return;
            }
            // each image as the cascade classifies it: by the exit that takes it
            int[] by = ev.cascade().takenBy(op.exits(), op.thresholds());
            probs = new float[p.size()][];
            for (int i = 0; i < probs.length; i++) {
                probs[i] = by[i] < 0 ? p.finalExit()[i] : p.exit(by[i])[i];
            }
        } else {
            int j = ev.exitNames().indexOf(which);
            probs = j < 0 ? p.finalExit() : p.exit(j);
        }
        int k = p.classes();
        List<String> names = model.labelSpace().get().size() == k ? model.labelSpace().get() : numbered(k);
        List<Integer>[][] cells = cells(p, probs, k);
        summary.setText(summaryOf(cells, which, model.scoredPhotos()));
        int max = 1;
        for (int a = 0; a < k; a++) {
            for (int b = 0; b < k; b++) {
                max = Math.max(max, cells[a][b].size());
            }
        }
        for (int b = 0; b < k; b++) {
            Label h = new Label(names.get(b));
            h.getStyleClass().add("confusion-header");
            h.setRotate(0);
            grid.add(h, b + 1, 0);
        }
        List<Path> paths = model.evalPaths().get();
        for (int a = 0; a < k; a++) {
            Label h = new Label(names.get(a));
            h.getStyleClass().add("confusion-header");
            grid.add(h, 0, a + 1);
            for (int b = 0; b < k; b++) {
                List<Integer> members = cells[a][b];
                Button cell = new Button(Integer.toString(members.size()));
                cell.setId("cell-" + a + "-" + b);
                cell.setMinSize(64, 40);
                double shade = members.size() / (double) max;
                String colour = a == b ? String.format("rgba(44,160,44,%.2f)", 0.15 + 0.75 * shade)
                        : String.format("rgba(214,39,40,%.2f)", members.isEmpty() ? 0.04 : 0.15 + 0.75 * shade);
                cell.setStyle("-fx-background-color: " + colour + "; -fx-background-radius: 3;");
                String title = names.get(a) + " → " + names.get(b) + " (" + which + ")";
                // a tooltip is a popup window: built when the pointer first rests on the cell, not for every cell
                cell.setOnMouseEntered(e -> {
                    if (cell.getTooltip() == null) {
                        cell.setTooltip(new Tooltip(title));
                    }
                });
                cell.setOnAction(e -> {
                    List<Path> sel = new ArrayList<>();
                    for (int i : members) {
                        if (i < paths.size()) {
                            sel.add(paths.get(i));
                        }
                    }
                    showImages.accept(sel, title);
                });
                grid.add(cell, b + 1, a + 1);
            }
        }
    }

    private static List<String> numbered(int k) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < k; i++) {
            out.add("class " + i);
        }
        return out;
    }

    /**
     * "The operating point: 226 of 320 labelled test photos right (70.6%)" under the matrix ("... training photos
     * right, out of fold (90.0%)" without test photos).
     */
    private static String summaryOf(List<Integer>[][] cells, String which, String photos) {
        int right = 0;
        int all = 0;
        for (int a = 0; a < cells.length; a++) {
            for (int b = 0; b < cells.length; b++) {
                all += cells[a][b].size();
                right += a == b ? cells[a][b].size() : 0;
            }
        }
        // "training photos, out of fold": "... training photos right, out of fold (90.0%)"
        String[] noun = photos.split(", ", 2);
        return String.format(Locale.ROOT, "%s: %d of %d labelled %s right%s (%.1f%%)",
                OPERATING_POINT.equals(which) ? "The operating point" : which, right, all, noun[0],
                noun.length > 1 ? ", " + noun[1] : "",
                all == 0 ? 0 : 100.0 * right / all);
    }

    /** Indices of the evaluation images in each (true, predicted) cell. */
    @SuppressWarnings("unchecked")
    private static List<Integer>[][] cells(EvalPredictions p, float[][] probs, int k) {
        List<Integer>[][] c = new List[k][k];
        for (int a = 0; a < k; a++) {
            for (int b = 0; b < k; b++) {
                c[a][b] = new ArrayList<>();
            }
        }
        for (int i = 0; i < p.size(); i++) {
            int t = p.truth()[i];
            if (t < 0) {
                continue;
            }
            c[t][org.persephonee.core.util.Vectors.argmax(probs[i])].add(i);
        }
        return c;
    }
}
