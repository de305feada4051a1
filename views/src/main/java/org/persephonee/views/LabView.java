package org.persephonee.views;

import javafx.beans.binding.Bindings;
import javafx.collections.ListChangeListener;
import javafx.geometry.Insets;
import javafx.geometry.Pos;
import javafx.application.Platform;
import javafx.scene.Node;
import javafx.scene.Parent;
import javafx.scene.Scene;
import javafx.scene.control.Alert;
import javafx.scene.control.Button;
import javafx.scene.control.CheckMenuItem;
import javafx.scene.control.Label;
import javafx.scene.control.Menu;
import javafx.scene.control.MenuBar;
import javafx.scene.control.MenuItem;
import javafx.scene.control.ProgressBar;
import javafx.scene.control.SplitPane;
import javafx.scene.control.Tab;
import javafx.scene.control.TabPane;
import javafx.scene.control.ToolBar;
import javafx.scene.control.Tooltip;
import javafx.scene.input.KeyCombination;
import javafx.scene.input.TransferMode;
import javafx.scene.layout.BorderPane;
import javafx.scene.layout.HBox;
import javafx.scene.layout.Priority;
import javafx.scene.layout.Region;
import javafx.scene.layout.VBox;
import javafx.stage.DirectoryChooser;
import javafx.stage.FileChooser;
import javafx.stage.Window;
import javafx.util.Duration;
import javafx.scene.layout.StackPane;
import org.controlsfx.control.StatusBar;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** Builds the lab window: menu, toolbar, backbone graph, data / curves / confusion tabs, side editor, status. */
public final class LabView {
    private final LabModel model;
    private final LabController controller;
    private final StallProbe probe;
    private DataPane dataPane;
    private CurvesPane curvesPane;
    private TabPane tabs;
    /** Built the first time the Review tab is shown. */
    private ReviewPane reviewPane;
    private Window window;

    public LabView(LabModel model, LabController controller) {
        this.model = model;
        this.controller = controller;
        this.probe = new StallProbe(model.longestStallMs);
    }

    public DataPane dataPane() { return dataPane; }

    public CurvesPane curvesPane() { return curvesPane; }

    public TabPane tabs() { return tabs; }

    /** Index of the Review tab. */
    static final int REVIEW_TAB = 3;

    /** The Review tab: its pane is built the first time it is shown (nothing of it costs the start). */
    private Tab reviewTab() {
        Tab tab = new Tab("Review");
        tab.setId("review-tab");
        tab.selectedProperty().addListener((o, was, now) -> {
            if (!now) {
                return;
            }
            if (reviewPane == null) {
                reviewPane = new ReviewPane(model, controller.review(), controller.data());
                tab.setContent(reviewPane.build());
            }
            Platform.runLater(reviewPane::focus);
        });
        return tab;
    }

    /** The FX-thread stall probe (reset it to measure an interaction). */
    public StallProbe probe() { return probe; }

    /** The root node of the lab (on any thread, before it joins a showing window). */
    public Parent build() {
        dataPane = new DataPane(model, controller.data(), v -> chooseImages());
        curvesPane = new CurvesPane(model, controller.curves(), controller.run());
        ConfusionPane confusion = new ConfusionPane(model, (paths, title) -> {
            dataPane.showOnly(paths, title);
            tabs.getSelectionModel().select(0);
        });
        Node dataNode = dataPane.build();
        Node curvesNode = curvesPane.build();
        Node confusionNode = confusion.build();
        tabs = new TabPane(new Tab("Data", progressive ? null : dataNode),
                new Tab("Curves", progressive ? null : curvesNode),
                new Tab("Confusion", progressive ? null : confusionNode), reviewTab());
        tabs.setId("tabs");
        Tab confusionTab = tabs.getTabs().get(2);
        confusion.setShowing(confusionTab.isSelected());
        confusionTab.selectedProperty().addListener((o, a, b) -> confusion.setShowing(b));
        tabs.setTabClosingPolicy(TabPane.TabClosingPolicy.UNAVAILABLE);
        model.resultsFinal.addListener((o, a, b) -> {
            // a re-fit the review queue started leaves the person on the queue
            if (b && tabs.getSelectionModel().getSelectedIndex() != REVIEW_TAB) {
                tabs.getSelectionModel().select(1);
            }
        });
        Node backboneNode = new BackbonePane(model, controller.exits()).build();
        Node sideNode = new SidePanel(model).build();
        SplitPane center = progressive ? new SplitPane(placeholder(), placeholder(), placeholder())
                : new SplitPane(backboneNode, tabs, sideNode);
        center.setDividerPositions(0.27, 0.78);
        if (progressive) {
            // each pane joins the window in its own frame (its first CSS pass and skins cost up to a second here):
            // the window keeps painting between them instead of freezing once for all of them
            attachGradually(backboneNode, () -> replaceKeepingDividers(center, 0, backboneNode));
            attachGradually(dataNode, () -> tabs.getTabs().get(0).setContent(dataNode));
            attachGradually(sideNode, () -> replaceKeepingDividers(center, 2, sideNode));
            pending.add(() -> tabs.getTabs().get(1).setContent(curvesNode));
            attachGradually(confusionNode, () -> tabs.getTabs().get(2).setContent(confusionNode));
        }

        toasts.setId("toasts");
        toasts.setAlignment(Pos.BOTTOM_RIGHT);
        toasts.setPickOnBounds(false);
        toasts.setMaxSize(Region.USE_PREF_SIZE, Region.USE_PREF_SIZE);
        toasts.setPadding(new javafx.geometry.Insets(12));
        StackPane.setAlignment(toasts, Pos.BOTTOM_RIGHT);
        StackPane layered = new StackPane(center, toasts);
        BorderPane root = new BorderPane(layered);
        Node menuBar = menu();
        Node toolBar = toolbar();
        VBox top = new VBox(menuBar, toolBar);
        Node status = statusBar();
        if (progressive) {
            top.getChildren().remove(menuBar);
            pending.addFirst(() -> top.getChildren().add(0, menuBar));
            // the window's frame joins first, a part per step (toolbar, status bar, tab headers, menu): styled
            // together with the first pane they held the FX thread 0.6-0.9 s when the lab replaced the starting view
            pending.addFirst(() -> replaceKeepingDividers(center, 1, tabs));
            pending.addFirst(() -> root.setBottom(status));
            pending.addFirst(() -> root.setTop(top));
        } else {
            root.setTop(top);
            root.setBottom(status);
        }
        root.setId("lab-root");
        root.setOnDragOver(e -> {
            if (e.getDragboard().hasFiles()) {
                e.acceptTransferModes(TransferMode.COPY);
            }
            e.consume();
        });
        root.setOnDragDropped(e -> {
            boolean ok = false;
            if (e.getDragboard().hasFiles()) {
                dropped(e.getDragboard().getFiles().stream().map(File::toPath).toList());
                ok = true;
            }
            e.setDropCompleted(ok);
            e.consume();
        });
        model.errors.addListener((ListChangeListener<String>) c -> {
            while (c.next()) {
                for (String s : c.getAddedSubList()) {
                    notify("Problem", s, true);
                }
            }
        });
        controller.export().setNotifier(s -> notify("Bundle exported", s, false));
        model.running.addListener((o, a, b) -> {
            if (b) {
                probe.reset();
            } else {
                probe.freeze();
            }
        });
        root.sceneProperty().addListener((o, a, s) -> {
            if (s != null) {
                s.windowProperty().addListener((oo, aa, w) -> window = w);
                window = s.getWindow();
            }
        });
        return root;
    }

    /**
     * Starts what runs once the panes are on screen (the FX-thread stall probe). Call on the FX thread after
     * {@link #build()}, which may run on any thread; {@link #scene()} does both.
     */
    public void started() {
        probe.start();
        // the chart code is warmed in the background before the chart first draws (it does once its pane is
        // attached, a second or two later): that draw held the FX thread 270-530 ms in a cold start
        curvesPane.warmUp();
        if (!pending.isEmpty()) {
            new javafx.animation.AnimationTimer() {
                private int frame;

                @Override
                public void handle(long now) {
                    // every second frame: the one in between renders what the previous step attached
                    if (frame++ % 2 == 1) {
                        return;
                    }
                    Runnable next = pending.poll();
                    if (next == null) {
                        stop();
                        StartupTimeline.mark("all panes attached");
                        return;
                    }
                    next.run();
                }
            }.start();
        }
    }

    private boolean progressive;
    private final java.util.ArrayDeque<Runnable> pending = new java.util.ArrayDeque<>();

    /**
     * With {@code true}, {@link #build()} returns the window's frame (menu, toolbar, status, tab headers) and
     * {@link #started()} attaches the panes one per frame. The lab's start uses it; tests build it whole.
     */
    public LabView progressive(boolean on) {
        this.progressive = on;
        return this;
    }

    /**
     * Queues a pane for the progressive start: it joins the window empty, then its children join one per step
     * (the first CSS pass of a whole pane, JIT-cold, held the FX thread 0.35-0.8 s at start). Panes whose root is
     * not a plain box join whole.
     */
    private void attachGradually(Node pane, Runnable attach) {
        if (!(pane instanceof javafx.scene.layout.VBox box)) {
            pending.add(attach);
            return;
        }
        List<Node> children = List.copyOf(box.getChildren());
        box.getChildren().clear();
        pending.add(attach);
        for (Node child : children) {
            pending.add(() -> box.getChildren().add(child));
        }
    }

    /**
     * Puts a pane in place of a placeholder. Replacing a split pane's item resets the divider next to it (the
     * backbone pane took half the window instead of 27 %), so the positions are put back.
     */
    private static void replaceKeepingDividers(SplitPane split, int index, Node node) {
        double[] positions = split.getDividerPositions();
        split.getItems().set(index, node);
        split.setDividerPositions(positions);
    }

    private static Node placeholder() {
        javafx.scene.layout.StackPane p = new javafx.scene.layout.StackPane();
        p.getStyleClass().add("backbone-pane");
        return p;
    }

    /** A scene with the lab and its style sheet (on the FX thread). */
    public Scene scene() {
        Scene scene = new Scene(build(), 1400, 860);
        started();
        scene.getStylesheets().add(LabView.class.getResource("lab.css").toExternalForm());
        return scene;
    }

    /** Files or folders dropped on the window: a backbone folder opens, anything else is imported. */
    public void dropped(List<Path> paths) {
        if (paths.size() == 1 && Files.isRegularFile(paths.get(0).resolve("backbone.json"))) {
            controller.exits().openBackbone(paths.get(0));
        } else {
            controller.data().importPaths(paths);
        }
    }

    private MenuBar menu() {
        MenuItem open = new MenuItem("Open backbone…");
        open.setAccelerator(KeyCombination.keyCombination("Shortcut+O"));
        open.setOnAction(e -> {
            DirectoryChooser dc = new DirectoryChooser();
            dc.setTitle("Open a backbone folder (backbone.json)");
            File f = dc.showDialog(window);
            if (f != null) {
                controller.exits().openBackbone(f.toPath());
            }
        });
        MenuItem imp = new MenuItem("Import images…");
        imp.setAccelerator(KeyCombination.keyCombination("Shortcut+I"));
        imp.setOnAction(e -> chooseImages());
        MenuItem impFolder = new MenuItem("Import a folder…");
        impFolder.setOnAction(e -> {
            DirectoryChooser dc = new DirectoryChooser();
            dc.setTitle("Import a folder of images (class folders become labels)");
            File f = dc.showDialog(window);
            if (f != null) {
                controller.data().importPaths(List.of(f.toPath()));
            }
        });
        MenuItem export = new MenuItem("Export bundle…");
        export.setAccelerator(KeyCombination.keyCombination("Shortcut+E"));
        export.setOnAction(e -> chooseExport());
        MenuItem quit = new MenuItem("Quit");
        quit.setAccelerator(KeyCombination.keyCombination("Shortcut+Q"));
        quit.setOnAction(e -> {
            if (window != null) {
                window.hide();
            }
        });
        Menu file = new Menu("File", null, open, imp, impFolder, export, quit);
        MenuItem run = new MenuItem("Personalise");
        run.setAccelerator(KeyCombination.keyCombination("Shortcut+R"));
        run.setOnAction(e -> controller.run().start());
        MenuItem cancel = new MenuItem("Cancel");
        cancel.setOnAction(e -> controller.run().cancel());
        MenuItem auto = new MenuItem("Auto-place exits");
        auto.setOnAction(e -> controller.exits().autoPlace());
        Menu runMenu = new Menu("Run", null, run, cancel, auto);
        CheckMenuItem macs = new CheckMenuItem("Curves in MACs");
        macs.selectedProperty().bindBidirectional(model.curvesInMacs);
        Menu view = new Menu("View", null, macs);
        MenuItem about = new MenuItem("How it works");
        about.setOnAction(e -> {
            Alert a = new Alert(Alert.AlertType.INFORMATION);
            a.setTitle("PersEPhonEE Lab");
            a.setHeaderText("Early exits, personalised");
            a.setContentText("1. Drag a head from the palette onto a stage (or press Auto).\n"
                    + "2. Drop your images on the Data tab: class folders become labels, loose images stay "
                    + "unlabelled, test/<class>/ is held out.\n"
                    + "3. Personalise: the backbone stays frozen; only the exits train, on your images; where labels "
                    + "are missing the final exit teaches them, then (by default) a second round learns from the "
                    + "exits' late ensemble.\n"
                    + "4. Move the threshold to trade accuracy for latency; Export writes the tuned bundle.\n\n"
                    + "Based on Leontiadis et al., It's always personal (HotMobile 2021).");
            a.showAndWait();
        });
        MenuItem diagnostics = new MenuItem("Engine diagnostics…");
        diagnostics.setId("diagnostics");
        diagnostics.setOnAction(e -> {
            model.status.set("Gathering engine diagnostics …");
            controller.diagnostics(this::showDiagnostics);
        });
        Menu help = new Menu("Help", null, about, diagnostics);
        return new MenuBar(file, runMenu, view, help);
    }

    /** The engine report in a dialog, selectable, with a button that copies it for a bug report. */
    private void showDiagnostics(String text) {
        model.status.set("Engine diagnostics ready");
        javafx.scene.control.TextArea area = new javafx.scene.control.TextArea(text);
        area.setId("diagnostics-text");
        area.setEditable(false);
        area.setWrapText(true);
        area.setStyle("-fx-font-family: monospace;");
        area.setPrefSize(760, 360);
        Alert a = new Alert(Alert.AlertType.INFORMATION);
        a.setTitle("Engine diagnostics");
        a.setHeaderText(text.lines().findFirst().orElse("Engine diagnostics"));
        Button copy = new Button("Copy to clipboard");
        copy.setOnAction(e -> {
            javafx.scene.input.ClipboardContent c = new javafx.scene.input.ClipboardContent();
            c.putString(text);
            javafx.scene.input.Clipboard.getSystemClipboard().setContent(c);
            copy.setText("Copied");
        });
        VBox box = new VBox(8, area, copy);
        a.getDialogPane().setContent(box);
        a.setResizable(true);
        a.show();
    }

    private ToolBar toolbar() {
        Button start = new Button("▶ Personalise");
        start.setId("personalise");
        start.getStyleClass().add("primary");
        start.setOnAction(e -> controller.run().start());
        start.disableProperty().bind(model.running.or(model.backbone.isNull()).or(Bindings.isEmpty(model.exits))
                .or(Bindings.isEmpty(model.images)));
        start.setTooltip(new Tooltip("Train the exits on the imported images (the backbone stays frozen)"));
        Button cancel = new Button("■ Cancel");
        cancel.setId("cancel");
        cancel.setOnAction(e -> controller.run().cancel());
        cancel.disableProperty().bind(model.running.not());
        ProgressBar bar = new ProgressBar();
        bar.setId("progress");
        bar.setPrefWidth(240);
        bar.progressProperty().bind(model.progress);
        Label phase = new Label();
        phase.setId("phase");
        phase.textProperty().bind(model.phase);
        Label eta = new Label();
        eta.textProperty().bind(model.eta);
        eta.getStyleClass().add("hint");
        Region spacer = new Region();
        HBox.setHgrow(spacer, Priority.ALWAYS);
        Button export = new Button("Export bundle…");
        export.setId("export");
        export.setOnAction(e -> chooseExport());
        export.disableProperty().bind(model.resultsFinal.not().or(model.running));
        HBox live = new HBox(8, bar, phase, eta);
        live.setAlignment(Pos.CENTER_LEFT);
        return new ToolBar(start, cancel, live, spacer, export);
    }

    private StatusBar statusBar() {
        StatusBar sb = new StatusBar();
        sb.setId("status");
        sb.textProperty().bind(model.status);
        Label stall = new Label();
        stall.setId("stall");
        javafx.beans.property.BooleanProperty ran = new javafx.beans.property.SimpleBooleanProperty();
        model.running.addListener((o, a, b) -> ran.set(ran.get() || b));
        stall.textProperty().bind(Bindings.createStringBinding(() -> !ran.get() ? ""
                : String.format(Locale.ROOT, "UI stall ≤ %.0f ms", model.longestStallMs.get()),
                model.longestStallMs, ran));
        stall.getStyleClass().add("hint");
        // the status line gives way, not the stall figure (it was elided to "UI stall ≤ 11..." after a run)
        stall.setMinWidth(Region.USE_PREF_SIZE);
        javafx.scene.control.Tooltip stallTip = new javafx.scene.control.Tooltip(
                "The longest time the window went without repainting during the last run");
        stall.setTooltip(stallTip);
        // a long status line is cut at the window's edge: the tooltip shows all of it
        javafx.scene.control.Tooltip tip = new javafx.scene.control.Tooltip();
        tip.textProperty().bind(model.status);
        tip.setWrapText(true);
        tip.setMaxWidth(600);
        sb.setTooltip(tip);
        sb.getRightItems().add(stall);
        sb.setPadding(new Insets(2, 8, 2, 8));
        return sb;
    }

    private void chooseImages() {
        FileChooser fc = new FileChooser();
        fc.setTitle("Import images");
        fc.getExtensionFilters().add(new FileChooser.ExtensionFilter("Images", "*.png", "*.jpg", "*.jpeg", "*.bmp",
                "*.gif", "*.PNG", "*.JPG", "*.JPEG"));
        List<File> files = fc.showOpenMultipleDialog(window);
        if (files != null && !files.isEmpty()) {
            controller.data().importPaths(files.stream().map(File::toPath).toList());
        }
    }

    private void chooseExport() {
        DirectoryChooser dc = new DirectoryChooser();
        dc.setTitle("Export the tuned exit bundle to a folder");
        List<String> warnings = controller.export().warnings();
        if (!warnings.isEmpty()) {
            Alert a = new Alert(Alert.AlertType.CONFIRMATION, String.join("\n\n", warnings)
                    + "\n\nExport this result anyway?", javafx.scene.control.ButtonType.CANCEL,
                    javafx.scene.control.ButtonType.OK);
            a.setTitle("This result looks broken");
            a.setHeaderText("Personalisation did not work on these images");
            a.initOwner(window);
            if (a.showAndWait().filter(b -> b == javafx.scene.control.ButtonType.OK).isEmpty()) {
                return;
            }
        }
        File f = dc.showDialog(window);
        if (f != null) {
            controller.export().export(exportTarget(f.toPath()));
        }
    }

    /** An empty folder or an earlier bundle is written in place; otherwise a new subfolder is used. */
    static Path exportTarget(Path chosen) {
        try (var s = Files.list(chosen)) {
            if (s.findAny().isEmpty() || Files.isRegularFile(chosen.resolve("exit-config.json"))) {
                return chosen;
            }
        } catch (Exception e) {
            return chosen;
        }
        Path p = chosen.resolve("persephonee-bundle");
        int i = 2;
        while (Files.exists(p) && !Files.isRegularFile(p.resolve("exit-config.json"))) {
            p = chosen.resolve("persephonee-bundle-" + i++);
        }
        return p;
    }

    /** Toasts in the lab's bottom-right corner, newest last. */
    private final VBox toasts = new VBox(8);
    /** Toasts shown at once; the oldest goes first. */
    static final int MAX_TOASTS = 3;

    /**
     * Shows a message in the window's bottom-right corner for a few seconds (8 for problems); a click closes it.
     * Drawn inside the lab's own window: the ControlsFX popup it replaces opened a window per message, 70-150 ms
     * of the FX thread each (the longest stall of an export).
     */
    private void notify(String title, String text, boolean error) {
        if (window == null || !window.isShowing()) {
            return;
        }
        Label head = new Label((error ? "⚠ " : "✓ ") + title);
        head.getStyleClass().add("toast-title");
        Label body = new Label(text);
        body.setWrapText(true);
        body.setMaxWidth(380);
        VBox toast = new VBox(4, head, body);
        toast.getStyleClass().addAll("toast", error ? "toast-warning" : "toast-info");
        toast.setMaxWidth(Region.USE_PREF_SIZE);
        toast.setOnMouseClicked(e -> toasts.getChildren().remove(toast));
        toasts.getChildren().add(toast);
        while (toasts.getChildren().size() > MAX_TOASTS) {
            toasts.getChildren().remove(0);
        }
        javafx.animation.PauseTransition stay = new javafx.animation.PauseTransition(Duration.seconds(error ? 8 : 6));
        javafx.animation.FadeTransition fade = new javafx.animation.FadeTransition(Duration.millis(400), toast);
        fade.setToValue(0);
        fade.setOnFinished(e -> toasts.getChildren().remove(toast));
        new javafx.animation.SequentialTransition(stay, fade).play();
    }
}
