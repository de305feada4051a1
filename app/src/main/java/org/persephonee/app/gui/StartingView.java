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

    /** The panes could not be built: say so instead of a window that never fills. */
    void failed(Throwable e) {
        doing.setText("The lab could not start: " + e);
        doing.setWrapText(true);
        doing.setMaxWidth(700);
        doing.getStyleClass().setAll("label", "error-text");
    }
}
