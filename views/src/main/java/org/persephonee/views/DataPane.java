package org.persephonee.views;

import javafx.beans.binding.Bindings;
import javafx.collections.FXCollections;
import javafx.collections.ListChangeListener;
import javafx.collections.ObservableList;
import javafx.collections.ObservableSet;
import javafx.collections.transformation.FilteredList;
import javafx.geometry.Insets;
import javafx.geometry.Pos;
import javafx.scene.Node;
import javafx.scene.control.Button;
import javafx.scene.control.ComboBox;
import javafx.scene.control.Label;
import javafx.scene.control.ListView;
import javafx.scene.control.TitledPane;
import javafx.scene.control.Tooltip;
import javafx.scene.image.Image;
import javafx.scene.layout.HBox;
import javafx.scene.layout.Priority;
import javafx.scene.layout.Region;
import javafx.scene.layout.StackPane;
import javafx.scene.layout.VBox;
import org.controlsfx.control.GridView;
import org.persephonee.core.backbone.Backbone;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * The person's images: a virtualised thumbnail grid with label badges, filters, per-class counts,
 * multi-select relabel and "mark as test", and the list of files an import skipped.
 */
public final class DataPane {
    static final String ALL = "All images";
    static final String UNLABELLED = "Unlabelled";
    static final String TEST = "Test images";
    static final String CLASS_PREFIX = "Class: ";

    private final LabModel model;
    private final DataController controller;
    private final Consumer<Void> chooseFiles;
    private final ObservableSet<ImageItem> selection = FXCollections.observableSet();
    private final Map<String, Image> thumbs = new LinkedHashMap<>(256, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Image> e) {
            return size() > 3000;
        }
    };
    private final ComboBox<String> filter = new ComboBox<>();
    private final ComboBox<String> labelBox = new ComboBox<>();
    private final Label counts = new Label();
    private final FilteredList<ImageItem> shown;
    private ImageItem anchor;

    public DataPane(LabModel model, DataController controller, Consumer<Void> chooseFiles) {
        this.model = model;
        this.controller = controller;
        this.chooseFiles = chooseFiles;
        this.shown = new FilteredList<>(model.images(), i -> true);
    }

    /** Images currently selected (for tests and menus). */
    public ObservableSet<ImageItem> selection() { return selection; }

    public Node build() {
        Button importBtn = new Button("Import images…");
        importBtn.setId("import-images");
        importBtn.setOnAction(e -> chooseFiles.accept(null));
        filter.setId("data-filter");
        filter.setValue(ALL);
        filter.valueProperty().addListener((o, a, b) -> applyFilter());
        labelBox.setId("relabel-class");
        labelBox.setEditable(true);
        labelBox.setPromptText("class");
        labelBox.setPrefWidth(140);
        Button setLabel = new Button("Set label");
        setLabel.setId("relabel");
        setLabel.setTooltip(new Tooltip("Give the selected images this class (empty = unlabelled)"));
        setLabel.setOnAction(e -> controller.relabel(List.copyOf(selection), labelBox.getEditor().getText()));
        Button markTest = new Button("Mark as test");
        markTest.setId("mark-test");
        markTest.setOnAction(e -> controller.markTest(List.copyOf(selection), true));
        Button markTrain = new Button("Mark as training");
        markTrain.setOnAction(e -> controller.markTest(List.copyOf(selection), false));
        Button remove = new Button("Remove");
        remove.setTooltip(new Tooltip("Remove the selected images from the lab (files stay on disk)"));
        remove.setOnAction(e -> {
            controller.removeImages(List.copyOf(selection));
            selection.clear();
        });
        for (Button b : List.of(setLabel, markTest, markTrain, remove)) {
            b.disableProperty().bind(Bindings.isEmpty(selection));
        }
        Label sel = new Label();
        sel.textProperty().bind(Bindings.createStringBinding(() -> selection.isEmpty() ? ""
                : selection.size() + " selected", selection));
        Region spacer = new Region();
        HBox.setHgrow(spacer, Priority.ALWAYS);
        HBox bar = new HBox(6, importBtn, new Label("Show"), filter, spacer, sel);
        bar.setAlignment(Pos.CENTER_LEFT);
        bar.setPadding(new Insets(6, 6, 2, 6));
        HBox selBar = new HBox(6, new Label("Selected images:"), labelBox, setLabel, markTest, markTrain, remove);
        selBar.setAlignment(Pos.CENTER_LEFT);
        selBar.setPadding(new Insets(0, 6, 2, 6));

        shown.addListener((ListChangeListener<ImageItem>) c -> syncGrid());
        syncGrid();
        GridView<ImageItem> grid = new GridView<>(gridItems);
        grid.setId("thumbnails");
        grid.setCellWidth(84);
        grid.setCellHeight(100);
        grid.setHorizontalCellSpacing(4);
        grid.setVerticalCellSpacing(4);
        grid.setCellFactory(g -> new ThumbCell(this::thumb, selection, this::click));
        VBox.setVgrow(grid, Priority.ALWAYS);

        Label empty = new Label("Drop image files or folders here\n(class-named folders become labels, loose images "
                + "stay unlabelled, labels.csv is read)");
        empty.getStyleClass().add("empty-hint");
        empty.visibleProperty().bind(Bindings.isEmpty(model.images()));
        StackPane gridBox = new StackPane(grid, empty);
        VBox.setVgrow(gridBox, Priority.ALWAYS);

        counts.setId("class-counts");
        counts.getStyleClass().add("counts");
        counts.setWrapText(true);
        ListView<String> skipped = new ListView<>(model.skipped());
        skipped.setPrefHeight(110);
        TitledPane skippedPane = new TitledPane("Skipped files", skipped);
        skippedPane.setId("skipped-files");
        skippedPane.textProperty().bind(Bindings.size(model.skipped()).asString("Skipped files (%d)"));
        skippedPane.setExpanded(false);
        skippedPane.visibleProperty().bind(Bindings.isNotEmpty(model.skipped()));
        skippedPane.managedProperty().bind(skippedPane.visibleProperty());

        model.images().addListener((ListChangeListener<ImageItem>) c -> refreshCounts());
        model.backbone().addListener((o, a, b) -> refreshCounts());
        refreshCounts();
        counts.setMinHeight(javafx.scene.layout.Region.USE_PREF_SIZE);
        VBox box = new VBox(4, bar, selBar, counts, gridBox, skippedPane);
        box.setPadding(new Insets(4));
        return box;
    }

    /** What the grid shows: {@link #shown}, the first screenful filled a few rows per frame (see syncGrid). */
    private final ObservableList<ImageItem> gridItems = FXCollections.observableArrayList();
    /** Images added to an almost empty grid per frame, and the count from which the grid takes the rest at once. */
    static final int FILL_FIRST = 4;
    static final int FILL_STEP = 12;
    static final int FILL_SCREEN = 96;
    private javafx.animation.AnimationTimer filling;

    /**
     * Follows {@link #shown}. The grid builds a cell (a skin, its CSS) for every thumbnail on screen the moment
     * its items change, and the first import's 40-60 cells in one go held the FX thread for 80-150 ms. So while
     * the grid shows fewer than a screenful, it grows by {@link #FILL_STEP} images a frame (a screenful in about
     * 0.1 s); once its cells exist, every later change is applied at once.
     */
    private void syncGrid() {
        if (gridItems.size() >= FILL_SCREEN || shown.size() <= FILL_STEP || gridItems.size() > shown.size()) {
            if (filling != null) {
                filling.stop();
                filling = null;
            }
            gridItems.setAll(shown);
            return;
        }
        if (filling == null) {
            filling = new javafx.animation.AnimationTimer() {
                @Override
                public void handle(long now) {
                    // the first cells also load and warm the cell classes: a smaller first step
                    int n = Math.min(shown.size(), gridItems.size() + (gridItems.isEmpty() ? FILL_FIRST : FILL_STEP));
                    if (n >= FILL_SCREEN || n == shown.size()) {
                        stop();
                        filling = null;
                        gridItems.setAll(shown);
                    } else {
                        gridItems.setAll(shown.subList(0, n));
                    }
                }
            };
            filling.start();
        }
        // the list may have changed under a fill: keep what is shown a prefix of it
        int keep = Math.min(gridItems.size(), shown.size());
        if (!gridItems.equals(shown.subList(0, keep))) {
            gridItems.setAll(shown.subList(0, keep));
        }
    }

    private void applyFilter() {
        String f = filter.getValue();
        if (f == null || f.equals(ALL)) {
            shown.setPredicate(i -> true);
        } else if (f.equals(UNLABELLED)) {
            shown.setPredicate(i -> i.label() == null && !i.test());
        } else if (f.equals(TEST)) {
            shown.setPredicate(ImageItem::test);
        } else if (f.startsWith(CLASS_PREFIX)) {
            String c = f.substring(CLASS_PREFIX.length());
            shown.setPredicate(i -> c.equals(i.label()));
        }
        selection.retainAll(shown);
    }

    /** Shows only these images (for example from a confusion-matrix cell). */
    public void showOnly(List<java.nio.file.Path> paths, String title) {
        java.util.Set<java.nio.file.Path> set = new java.util.HashSet<>(paths);
        filter.getItems().remove(title);
        filter.getItems().add(title);
        filter.getSelectionModel().select(title);
        // a custom title is not one of applyFilter's filters: set the predicate after selecting it
        shown.setPredicate(i -> set.contains(i.path()));
    }

    private void refreshCounts() {
        TreeMap<String, int[]> per = new TreeMap<>();
        int unl = 0;
        int test = 0;
        for (ImageItem i : model.images()) {
            if (i.test()) {
                test++;
            }
            if (i.label() == null) {
                if (!i.test()) {
                    unl++;
                }
                continue;
            }
            per.computeIfAbsent(i.label(), k -> new int[2])[i.test() ? 1 : 0]++;
        }
        StringBuilder sb = new StringBuilder();
        sb.append(model.images().size()).append(" images · ").append(unl).append(" unlabelled · ").append(test)
                .append(" test\n");
        StringBuilder cls = new StringBuilder();
        per.forEach((k, v) -> cls.append(cls.length() == 0 ? "" : " · ").append(k).append(" ").append(v[0])
                .append(v[1] > 0 ? " (+" + v[1] + " test)" : ""));
        sb.append(cls.length() == 0 ? "no labelled images yet" : "labelled: " + cls);
        counts.setText(sb.toString());
        String keep = filter.getValue();
        List<String> opts = new ArrayList<>(List.of(ALL, UNLABELLED, TEST));
        per.keySet().forEach(k -> opts.add(CLASS_PREFIX + k));
        filter.getItems().setAll(opts);
        filter.setValue(keep != null && opts.contains(keep) ? keep : ALL);
        TreeSet<String> classes = new TreeSet<>(per.keySet());
        Backbone bb = model.backbone().get();
        if (bb != null) {
            classes.addAll(bb.classNames());
        }
        labelBox.getItems().setAll(classes);
    }

    private Image thumb(ImageItem item) {
        return thumbs.computeIfAbsent(item.path().toString(),
                k -> new Image(fileUrl(item.path()), 72, 72, true, false, true));
    }

    /**
     * The file's URL without touching the disk: {@link java.nio.file.Path#toUri()} asks the file system whether it is a folder,
     * a stat per thumbnail cell on the FX thread (it showed in the first layout of an import).
     */
    static String fileUrl(java.nio.file.Path p) {
        try {
            return new java.net.URI("file", null, p.toAbsolutePath().toString(), null).toASCIIString();
        } catch (java.net.URISyntaxException e) {
            return p.toUri().toString();
        }
    }

    private void click(ImageItem item, boolean toggle, boolean range) {
        if (range && anchor != null && shown.contains(anchor)) {
            int a = shown.indexOf(anchor);
            int b = shown.indexOf(item);
            for (int k = Math.min(a, b); k <= Math.max(a, b); k++) {
                selection.add(shown.get(k));
            }
            return;
        }
        if (toggle) {
            if (!selection.remove(item)) {
                selection.add(item);
            }
        } else {
            selection.clear();
            selection.add(item);
        }
        anchor = item;
    }
}
