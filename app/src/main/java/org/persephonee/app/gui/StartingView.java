package org.persephonee.app.gui;

import javafx.geometry.Pos;
import javafx.scene.Parent;
import javafx.scene.control.Label;
import javafx.scene.control.ProgressBar;
import javafx.scene.layout.VBox;

/**
 * The window's first content, shown within a moment of the start: the lab's name and what it is doing while
 * its panes are built (off the FX thread) and the native engine loads.
 */
final class StartingView {
    private final VBox root;
    private final Label doing = new Label("Building the lab's panes and loading the native engine ...");

    StartingView() {
        Label title = new Label("PersEPhonEE Lab");
        title.getStyleClass().add("starting-title");
        Label what = new Label("Early exits for on-device personalisation");
        what.getStyleClass().add("hint");
        ProgressBar bar = new ProgressBar(-1);
        bar.setPrefWidth(320);
        doing.getStyleClass().add("hint");
        root = new VBox(10, title, what, bar, doing);
        root.setAlignment(Pos.CENTER);
        root.setId("starting");
    }

    Parent root() { return root; }

    /**
     * While the lab's panes are built elsewhere: one throwaway control of each kind the lab uses is styled per
     * frame here, hidden. The first CSS pass and skin of a kind are slow with cold code (the lab's first pane held
     * the FX thread 0.45-0.75 s at start); a kind at a time keeps each frame short, and the lab's panes then meet
     * warm code. Stops when {@code done} says so or every kind has been styled, then runs {@code finished}.
     */
    void warmUp(java.util.function.BooleanSupplier done, Runnable finished) {
        javafx.scene.Group holder = new javafx.scene.Group();
        holder.setManaged(false);
        holder.setVisible(false);
        root.getChildren().add(holder);
        java.util.ArrayDeque<java.util.function.Supplier<javafx.scene.Node>> kinds = new java.util.ArrayDeque<>(
                java.util.List.of(
                        () -> new javafx.scene.control.Button("warm"),
                        () -> new javafx.scene.control.ToggleButton("warm"),
                        () -> new javafx.scene.control.TextField("warm"),
                        () -> new javafx.scene.control.ComboBox<>(javafx.collections.FXCollections.observableArrayList("a")),
                        () -> new javafx.scene.control.Slider(0, 1, 0.5),
                        () -> new javafx.scene.control.ScrollPane(new Label("warm")),
                        () -> new javafx.scene.control.MenuBar(new javafx.scene.control.Menu("warm", null,
                                new javafx.scene.control.MenuItem("warm"))),
                        () -> new javafx.scene.control.TabPane(new javafx.scene.control.Tab("warm", new Label("warm"))),
                        () -> new javafx.scene.control.TitledPane("warm", new Label("warm")),
                        () -> new javafx.scene.control.ListView<>(javafx.collections.FXCollections.observableArrayList("a"))));
        new javafx.animation.AnimationTimer() {
            @Override
            public void handle(long now) {
                if (done.getAsBoolean() || kinds.isEmpty()) {
                    stop();
                    root.getChildren().remove(holder);
                    finished.run();
                    return;
                }
                javafx.scene.Node n = kinds.poll().get();
                holder.getChildren().setAll(n);
                n.applyCss();
            }
        }.start();
    }

    /** The panes could not be built: say so instead of a window that never fills. */
    void failed(Throwable e) {
        doing.setText("The lab could not start: " + e);
        doing.setWrapText(true);
        doing.setMaxWidth(700);
        doing.getStyleClass().setAll("label", "error-text");
    }
}
