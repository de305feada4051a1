package org.persephonee.views;

import javafx.collections.ObservableSet;
import javafx.geometry.Pos;
import javafx.scene.control.Tooltip;
import javafx.scene.image.Image;
import javafx.scene.image.ImageView;
import javafx.scene.layout.Region;
import javafx.scene.layout.StackPane;
import javafx.scene.layout.VBox;
import javafx.scene.text.Text;
import org.controlsfx.control.GridCell;

/**
 * One thumbnail: the image, a label badge and, for test images only, a TEST badge. The badges are a styled
 * pane around a {@link Text}, not {@code Label}s: a control brings a skin of its own, and building three skins
 * per cell made the grid's first layout (60 cells on a 1440-px screen) hold the FX thread for 120-155 ms.
 */
final class ThumbCell extends GridCell<ImageItem> {
    private final ImageView view = new ImageView();
    private final Text badgeText = new Text();
    private final StackPane badge = new StackPane(badgeText);
    private final StackPane img;
    private StackPane testBadge;
    private final VBox box;

    /** How a click on a cell selects: the item, whether it toggles, whether it extends a range. */
    interface Click {
        void on(ImageItem item, boolean toggle, boolean range);
    }

    private final java.util.function.Function<ImageItem, Image> thumb;
    private final ObservableSet<ImageItem> selection;

    ThumbCell(java.util.function.Function<ImageItem, Image> thumb, ObservableSet<ImageItem> selection, Click click) {
        this.thumb = thumb;
        this.selection = selection;
        view.setFitWidth(72);
        view.setFitHeight(72);
        view.setPreserveRatio(true);
        view.setSmooth(false);
        badge.getStyleClass().add("badge");
        badgeText.getStyleClass().add("badge-text");
        // as wide as its text, not the cell (the cell's box stretches what may grow)
        badge.setMaxSize(Region.USE_PREF_SIZE, Region.USE_PREF_SIZE);
        img = new StackPane(view);
        box = new VBox(2, img, badge);
        box.setAlignment(Pos.CENTER);
        getStyleClass().add("thumb");
        setOnMouseClicked(e -> {
            if (getItem() != null) {
                click.on(getItem(), e.isShortcutDown() || e.isControlDown(), e.isShiftDown());
            }
        });
        selection.addListener((javafx.collections.SetChangeListener<ImageItem>) c -> mark());
        // the path tooltip is built when the pointer first rests on the cell: a Tooltip per cell and update
        // made the first layout of a restored persona's grid hold the FX thread for seconds
        setOnMouseEntered(e -> {
            if (getItem() == null) {
                return;
            }
            if (getTooltip() == null) {
                setTooltip(new Tooltip());
            }
            getTooltip().setText(getItem().path().toString());
        });
    }

    /** A class name that fits the cell's width (a Text does not elide as a Label did). */
    private static String shorten(String label) {
        return label.length() <= 13 ? label : label.substring(0, 12) + "…";
    }

    /** The TEST badge, made the first time this cell shows a test image. */
    private void showTest(boolean test) {
        if (test && testBadge == null) {
            Text t = new Text("TEST");
            t.getStyleClass().add("test-badge-text");
            testBadge = new StackPane(t);
            testBadge.getStyleClass().add("test-badge");
            testBadge.setMaxSize(Region.USE_PREF_SIZE, Region.USE_PREF_SIZE);
            StackPane.setAlignment(testBadge, Pos.TOP_RIGHT);
            img.getChildren().add(testBadge);
        }
        if (testBadge != null) {
            testBadge.setVisible(test);
        }
    }

    private void mark() {
        boolean selected = getItem() != null && selection.contains(getItem());
        if (getStyleClass().contains("selected") != selected) {
            if (selected) {
                getStyleClass().add("selected");
            } else {
                getStyleClass().remove("selected");
            }
        }
    }

    @Override
    protected void updateItem(ImageItem item, boolean empty) {
        super.updateItem(item, empty);
        // the graphic stays and is hidden when empty, and style classes change only when they must: a new
        // graphic or style class re-applies CSS to the whole cell, which made laying out the grid slow
        if (getGraphic() != box) {
            setGraphic(box);
        }
        box.setVisible(!empty && item != null);
        if (!empty && item != null) {
            view.setImage(thumb.apply(item));
            badgeText.setText(item.label() == null ? "unlabelled" : shorten(item.label()));
            boolean unlabelled = item.label() == null;
            if (badge.getStyleClass().contains("unlabelled") != unlabelled) {
                if (unlabelled) {
                    badge.getStyleClass().add("unlabelled");
                } else {
                    badge.getStyleClass().remove("unlabelled");
                }
            }
            showTest(item.test());
            if (getTooltip() != null) {
                getTooltip().setText(item.path().toString());
            }
        } else {
            view.setImage(null);
        }
        mark();
    }
}
