package org.persephonee.views;

import javafx.collections.ListChangeListener;
import javafx.geometry.Insets;
import javafx.geometry.Pos;
import javafx.application.Platform;
import javafx.scene.Node;
import javafx.scene.Parent;
import javafx.scene.Scene;
import javafx.scene.control.Label;
import javafx.scene.control.Menu;
import javafx.scene.control.SplitPane;
import javafx.scene.control.Tab;
import javafx.scene.control.TabPane;
import javafx.scene.input.TransferMode;
import javafx.scene.layout.BorderPane;
import javafx.scene.layout.Region;
import javafx.scene.layout.VBox;
import javafx.stage.Window;
import javafx.util.Duration;
import javafx.scene.layout.StackPane;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

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
    /** Menu, toolbar, status bar and the file dialogs. */
    private final LabChrome chrome;

    public LabView(LabModel model, LabController controller) {
        this.model = model;
        this.controller = controller;
        this.chrome = new LabChrome(model, controller, () -> window);
        this.probe = new StallProbe(model.longestStallMs());
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
                reviewPane = new ReviewPane(model, controller.review(), controller.data(),
                        controller.history().model().runs());
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
        dataPane = new DataPane(model, controller.data(), v -> chrome.chooseImages());
        curvesPane = new CurvesPane(model, controller.curves(), controller.run(), controller.history());
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
        model.resultsFinal().addListener((o, a, b) -> {
            // a re-fit the review queue started leaves the person on the queue
            if (b && tabs.getSelectionModel().getSelectedIndex() != REVIEW_TAB) {
                tabs.getSelectionModel().select(1);
            }
        });
        Node backboneNode = new BackbonePane(model, controller.exits()).build();
        Node sideNode = new SidePanel(model).build();
        SplitPane center = progressive ? new SplitPane(placeholder(), placeholder(), placeholder())
                : new SplitPane(backboneNode, tabs, sideNode);
        center.setDividerPositions(0.27, 0.76);
        if (progressive) {
            // each pane joins the window in its own frame (its first CSS pass and skins cost up to a second here):
            // the window keeps painting between them instead of freezing once for all of them
            attachGradually(backboneNode, () -> replaceKeepingDividers(center, 0, backboneNode));
            attachGradually(dataNode, () -> tabs.getTabs().get(0).setContent(dataNode));
            attachGradually(sideNode, () -> replaceKeepingDividers(center, 2, sideNode));
            attachGradually(curvesNode, () -> tabs.getTabs().get(1).setContent(curvesNode));
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
        Node menuBar = chrome.menu();
        Node toolBar = chrome.toolbar();
        VBox top = new VBox(menuBar, toolBar);
        Node status = chrome.statusBar();
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
        model.errors().addListener((ListChangeListener<String>) c -> {
            while (c.next()) {
                for (String s : c.getAddedSubList()) {
                    notify("Problem", s, true);
                }
            }
        });
        controller.export().setNotifier(s -> notify("Bundle exported", s, false));
        model.running().addListener((o, a, b) -> {
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
        controller.exits().measureWhen(this::whenAttached);
        // the chart code is warmed in the background before the chart first draws (it does once its pane is
        // attached, a second or two later): that draw held the FX thread 270-530 ms in a cold start
        curvesPane.warmUp();
        attached = pending.isEmpty();
        if (!attached) {
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
                        attached = true;
                        List<Runnable> waiting = List.copyOf(afterAttached);
                        afterAttached.clear();
                        waiting.forEach(Runnable::run);
                        return;
                    }
                    next.run();
                }
            }.start();
        }
    }

    private boolean progressive;
    /** Whether every pane is attached; until then {@link #whenAttached} keeps its work in {@link #afterAttached}. */
    private boolean attached;
    private final List<Runnable> afterAttached = new ArrayList<>();

    /** Runs {@code r} on the FX thread once every pane is attached (now, if they are). */
    private void whenAttached(Runnable r) {
        if (attached) {
            r.run();
        } else {
            afterAttached.add(r);
        }
    }
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
        // a plain box, or a split pane of plain boxes (the curves: chart above, controls and table below)
        List<VBox> boxes = pane instanceof VBox box ? List.of(box)
                : pane instanceof SplitPane split && split.getItems().stream().allMatch(VBox.class::isInstance)
                ? split.getItems().stream().map(VBox.class::cast).toList() : List.of();
        if (boxes.isEmpty()) {
            pending.add(attach);
            return;
        }
        List<Runnable> steps = new ArrayList<>();
        for (VBox box : boxes) {
            for (Node child : List.copyOf(box.getChildren())) {
                steps.add(() -> box.getChildren().add(child));
            }
            box.getChildren().clear();
        }
        pending.add(attach);
        pending.addAll(steps);
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
