package org.persephonee.views;

import javafx.beans.binding.Bindings;
import javafx.geometry.Insets;
import javafx.geometry.Pos;
import javafx.scene.Node;
import javafx.scene.control.Button;
import javafx.scene.control.ContextMenu;
import javafx.scene.control.Label;
import javafx.scene.control.MenuItem;
import javafx.scene.control.ScrollPane;
import javafx.scene.control.Tooltip;
import javafx.scene.input.ClipboardContent;
import javafx.scene.input.Dragboard;
import javafx.scene.input.KeyCode;
import javafx.scene.input.TransferMode;
import javafx.scene.layout.HBox;
import javafx.scene.layout.Priority;
import javafx.scene.layout.VBox;
import javafx.scene.shape.Line;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.Stage;
import org.persephonee.core.backbone.StageTable;
import org.persephonee.core.eval.Evaluation;
import org.persephonee.core.eval.LatencyProfile;
import org.persephonee.core.exits.HeadSpec;
import org.persephonee.core.exits.HeadType;
import org.persephonee.core.personalise.ExitStats;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The backbone as a vertical graph of stages (name, output shape, cumulative MACs, measured ms), with
 * exits drawn as branches, and a palette of head types to drag onto stages.
 */
public final class BackbonePane {
    /** Drag payload prefix for head types. */
    public static final String HEAD_DRAG = "persephonee-head:";

    private final LabModel model;
    private final ExitsController controller;
    private final VBox graph = new VBox();
    private final Label title = new Label("No backbone");

    public BackbonePane(LabModel model, ExitsController controller) {
        this.model = model;
        this.controller = controller;
    }

    public Node build() {
        title.getStyleClass().add("pane-title");
        title.setWrapText(true);
        title.setMinHeight(javafx.scene.layout.Region.USE_PREF_SIZE);
        Label paletteLabel = new Label("Exit heads — drag onto a stage");
        paletteLabel.getStyleClass().add("hint");
        // wraps onto a second row when the pane is narrow, so no chip is cut off
        javafx.scene.layout.FlowPane palette = new javafx.scene.layout.FlowPane(6, 6);
        palette.setPrefWrapLength(300);
        for (HeadType t : HeadType.values()) {
            palette.getChildren().add(chip(t));
        }
        Button auto = new Button("Auto");
        auto.setId("auto-exits");
        auto.setTooltip(new Tooltip("Propose a grid + linear exit after every stage but the last"));
        auto.setOnAction(e -> controller.autoPlace());
        Button clear = new Button("Clear");
        clear.setId("clear-exits");
        clear.setTooltip(new Tooltip("Remove every exit (the last run's curves stay, marked as stale)"));
        clear.setOnAction(e -> controller.clearExits());
        auto.disableProperty().bind(model.backbone().isNull().or(model.running()));
        clear.disableProperty().bind(Bindings.isEmpty(model.exits()).or(model.running()));
        HBox actions = new HBox(6, auto, clear);
        graph.setSpacing(0);
        graph.setPadding(new Insets(6, 4, 12, 4));
        graph.setId("stage-graph");
        graph.setFocusTraversable(true);
        graph.setOnKeyPressed(e -> {
            if ((e.getCode() == KeyCode.DELETE || e.getCode() == KeyCode.BACK_SPACE) && model.selectedExit().get() != null) {
                controller.removeExit(model.selectedExit().get());
            }
        });
        ScrollPane scroll = new ScrollPane(graph);
        scroll.setId("stage-scroll");
        scroll.setFitToWidth(true);
        VBox.setVgrow(scroll, Priority.ALWAYS);
        VBox box = new VBox(8, title, paletteLabel, palette, actions, scroll);
        box.setPadding(new Insets(10));
        box.setPrefWidth(385);
        box.getStyleClass().add("backbone-pane");
        for (javafx.beans.Observable o : List.of(model.backbone(), model.exits(), model.stageProfile(), model.liveStats(),
                model.evaluation(), model.resultsFinal(), model.selectedExit())) {
            o.addListener(x -> rebuildSoon());
        }
        rebuild();
        return box;
    }

    private Node chip(HeadType t) {
        Label chip = new Label(t.display());
        chip.setId("head-" + t.id());
        chip.getStyleClass().addAll("head-chip", "head-" + t.id());
        chip.setTooltip(new Tooltip(switch (t) {
            case LINEAR -> "Global average pool + linear: cheapest";
            case CONV -> "3x3 conv stride 2 + BatchNorm + ReLU, pool, linear (MSDNet / HAPI)";
            case MLP -> "Pool, hidden layer with ReLU, linear";
            case GRID -> "Average pool to a " + HeadSpec.GRID_CELLS + "x" + HeadSpec.GRID_CELLS
                    + " grid + linear: cheap, keeps where features are";
        }));
        chip.setOnDragDetected(e -> {
            Dragboard db = chip.startDragAndDrop(TransferMode.COPY);
            ClipboardContent c = new ClipboardContent();
            c.putString(HEAD_DRAG + t.id());
            db.setContent(c);
            e.consume();
        });
        return chip;
    }

    private boolean rebuildPending;

    /**
     * One rebuild per frame, however many changes came in it: restoring a workspace places its exits one by one
     * (each an add, a sort and two selections), and rebuilding the graph for each froze the window for seconds.
     */
    private void rebuildSoon() {
        if (!rebuildPending) {
            rebuildPending = true;
            javafx.application.Platform.runLater(() -> {
                rebuildPending = false;
                rebuild();
            });
        }
    }

    private void rebuild() {
        graph.getChildren().clear();
        Backbone bb = model.backbone().get();
        if (bb == null) {
            title.setText("No backbone — File > Open backbone, or drop a backbone folder on the window");
            return;
        }
        title.setText(bb.name() + "\n" + StageTable.shape(bb.input().shape()) + " input · "
                + bb.classNames().size() + " classes · " + StageTable.count(bb.totalMacs()) + " MACs");
        LatencyProfile prof = model.stageProfile().get();
        Label input = new Label("input " + StageTable.shape(bb.input().shape()));
        input.getStyleClass().add("io-node");
        graph.getChildren().add(input);
        double cumMs = 0;
        for (Stage s : bb.stages()) {
            graph.getChildren().add(connector());
            if (prof != null) {
                cumMs += prof.stageMs().getOrDefault(s.name(), 0.0);
            }
            graph.getChildren().add(stageRow(bb, s, prof == null ? Double.NaN : cumMs));
        }
        graph.getChildren().add(connector());
        Label fin = new Label("final classifier → " + bb.classNames().size() + " classes");
        fin.getStyleClass().add("io-node");
        graph.getChildren().add(fin);
    }

    private Node connector() {
        Line l = new Line(0, 0, 0, 10);
        l.getStyleClass().add("connector");
        HBox box = new HBox(l);
        box.setPadding(new Insets(0, 0, 0, 60));
        return box;
    }

    private Node stageRow(Backbone bb, Stage s, double cumMs) {
        Label name = new Label(s.name());
        name.getStyleClass().add("stage-name");
        Label detail = new Label(StageTable.shape(s.outputShape()) + " · " + StageTable.count(s.cumulativeMacs())
                + " MACs" + (Double.isNaN(cumMs) ? "\n… ms from the input"   // timed a moment later: same height
                : String.format(Locale.ROOT, "\n%.2f ms from the input", cumMs)));
        detail.getStyleClass().add("stage-detail");
        VBox card = new VBox(1, name, detail);
        card.getStyleClass().add("stage-card");
        card.setId("stage-" + s.name());
        card.setMinWidth(168);
        card.setPrefWidth(168);
        boolean last = s.index() == bb.stages().size() - 1;
        card.setOnDragOver(e -> {
            Optional<HeadType> t = dragged(e.getDragboard());
            if (t.isPresent()) {
                e.acceptTransferModes(TransferMode.COPY);
                boolean ok = !last && model.exits().stream().noneMatch(x -> x.stage().equals(s.name()))
                        && !model.running().get();
                card.getStyleClass().removeAll("drop-ok", "drop-bad");
                card.getStyleClass().add(ok ? "drop-ok" : "drop-bad");
            }
            e.consume();
        });
        card.setOnDragExited(e -> card.getStyleClass().removeAll("drop-ok", "drop-bad"));
        card.setOnDragDropped(e -> {
            Optional<HeadType> t = dragged(e.getDragboard());
            boolean done = false;
            if (t.isPresent()) {
                Optional<String> refused = controller.addExit(s.name(), t.get());
                refused.ifPresent(r -> model.status().set("Cannot attach here: " + r));
                done = refused.isEmpty();
            }
            e.setDropCompleted(done);
            e.consume();
        });
        HBox row = new HBox(0, card);
        row.setAlignment(Pos.CENTER_LEFT);
        model.exits().stream().filter(x -> x.stage().equals(s.name())).findFirst().ifPresent(x -> {
            Line branch = new Line(0, 0, 22, 0);
            branch.getStyleClass().add("branch");
            row.getChildren().addAll(branch, exitCard(x));
        });
        if (last) {
            Tooltip.install(card, new Tooltip("The final classifier follows this stage"));
        }
        return row;
    }

    private static Optional<HeadType> dragged(Dragboard db) {
        if (db.hasString() && db.getString().startsWith(HEAD_DRAG)) {
            try {
                return Optional.of(HeadType.parse(db.getString().substring(HEAD_DRAG.length())));
            } catch (IllegalArgumentException e) {
                return Optional.empty();
            }
        }
        return Optional.empty();
    }

    private Node exitCard(ExitModel x) {
        Label head = new Label("⤷ " + x.head().id());
        head.getStyleClass().add("exit-name");
        String acc = accuracy(x);
        Label detail = new Label((x.threshold() > 1 ? "off" : String.format(Locale.ROOT, "t ≥ %.2f", x.threshold()))
                + (acc.isEmpty() ? "" : " · " + acc));
        detail.getStyleClass().add("exit-detail");
        VBox card = new VBox(1, head, detail);
        card.getStyleClass().addAll("exit-card", "head-" + x.head().type().id());
        card.setMinWidth(124);
        if (x == model.selectedExit().get()) {
            card.getStyleClass().add("selected");
        }
        card.setId("exit-" + x.stage());
        card.setOnMouseClicked(e -> {
            model.selectedExit().set(x);
            graph.requestFocus();
        });
        MenuItem remove = new MenuItem("Remove exit");
        remove.setOnAction(e -> controller.removeExit(x));
        ContextMenu menu = new ContextMenu(remove);
        card.setOnContextMenuRequested(e -> menu.show(card, e.getScreenX(), e.getScreenY()));
        return card;
    }

    private String accuracy(ExitModel x) {
        // a finished run's figures are its deployed heads' (the folds' mean), not the last training epoch's
        String done = model.resultsFinal().get() ? evaluated(x) : "";
        if (!done.isEmpty()) {
            return done;
        }
        for (ExitStats s : model.liveStats()) {
            if (s.stage().equals(x.stage()) && s.head().equals(x.head().id())) {
                return String.format(Locale.ROOT, "%.1f%%", 100 * s.evalAccuracy());
            }
        }
        return evaluated(x);
    }

    private String evaluated(ExitModel x) {
        Evaluation ev = model.evaluation().get();
        if (ev != null) {
            int j = ev.exitNames().indexOf(x.key());
            if (j >= 0) {
                return String.format(Locale.ROOT, "%.1f%%", 100 * ev.cascade().predictions().accuracy(
                        ev.cascade().predictions().exit(j)));
            }
        }
        return "";
    }
}
