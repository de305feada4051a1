package org.persephonee.views;

import javafx.beans.binding.Bindings;
import javafx.geometry.Insets;
import javafx.geometry.Pos;
import javafx.scene.control.Alert;
import javafx.scene.control.Button;
import javafx.scene.control.CheckMenuItem;
import javafx.scene.control.Label;
import javafx.scene.control.Menu;
import javafx.scene.control.MenuBar;
import javafx.scene.control.MenuItem;
import javafx.scene.control.ProgressBar;
import javafx.scene.control.ToolBar;
import javafx.scene.control.Tooltip;
import javafx.scene.input.KeyCombination;
import javafx.scene.layout.HBox;
import javafx.scene.layout.Priority;
import javafx.scene.layout.Region;
import javafx.scene.layout.VBox;
import javafx.stage.DirectoryChooser;
import javafx.stage.FileChooser;
import javafx.stage.Window;
import org.controlsfx.control.StatusBar;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * The lab window's frame: menu bar, toolbar (Personalise, Cancel, progress, Export), status bar with the stall
 * figure, the engine diagnostics dialog and the file dialogs for import and export.
 */
final class LabChrome {
    private final LabModel model;
    private final LabController controller;
    private final Supplier<Window> window;

    LabChrome(LabModel model, LabController controller, Supplier<Window> window) {
        this.model = model;
        this.controller = controller;
        this.window = window;
    }

    MenuBar menu() {
        MenuItem open = new MenuItem("Open backbone…");
        open.setAccelerator(KeyCombination.keyCombination("Shortcut+O"));
        open.setOnAction(e -> {
            DirectoryChooser dc = new DirectoryChooser();
            dc.setTitle("Open a backbone folder (backbone.json)");
            File f = dc.showDialog(window.get());
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
            File f = dc.showDialog(window.get());
            if (f != null) {
                controller.data().importPaths(List.of(f.toPath()));
            }
        });
        MenuItem export = new MenuItem("Export bundle (Java)…");
        export.setAccelerator(KeyCombination.keyCombination("Shortcut+E"));
        export.setOnAction(e -> chooseExport(false));
        MenuItem exportTs = new MenuItem("Export for TorchScript / PyTorch Mobile…");
        exportTs.setOnAction(e -> chooseExport(true));
        MenuItem quit = new MenuItem("Quit");
        quit.setAccelerator(KeyCombination.keyCombination("Shortcut+Q"));
        quit.setOnAction(e -> {
            if (window.get() != null) {
                window.get().hide();
            }
        });
        Menu file = new Menu("File", null, open, imp, impFolder, export, exportTs, quit);
        MenuItem run = new MenuItem("Personalise");
        run.setAccelerator(KeyCombination.keyCombination("Shortcut+R"));
        run.setOnAction(e -> controller.run().start());
        MenuItem cancel = new MenuItem("Cancel");
        cancel.setOnAction(e -> controller.run().cancel());
        MenuItem auto = new MenuItem("Auto-place exits");
        auto.setOnAction(e -> controller.exits().autoPlace());
        Menu runMenu = new Menu("Run", null, run, cancel, auto);
        CheckMenuItem macs = new CheckMenuItem("Curves in MACs");
        macs.selectedProperty().bindBidirectional(model.curvesInMacs());
        MenuItem device = new MenuItem("Latency from a device profile\u2026");
        device.setOnAction(e -> {
            FileChooser fc = new FileChooser();
            fc.setTitle("A device latency profile (JSON: milliseconds per stage and head)");
            fc.getExtensionFilters().add(new FileChooser.ExtensionFilter("JSON", "*.json"));
            File f = fc.showOpenDialog(window.get());
            if (f != null) {
                controller.run().useDeviceProfile(f.toPath());
            }
        });
        MenuItem measured = new MenuItem("Latency measured here");
        measured.setOnAction(e -> controller.run().useDeviceProfile(null));
        measured.disableProperty().bind(model.deviceProfile().isNull());
        Menu view = new Menu("View", null, macs, new javafx.scene.control.SeparatorMenuItem(), device, measured);
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
            model.status().set("Gathering engine diagnostics …");
            controller.diagnostics(this::showDiagnostics);
        });
        Menu help = new Menu("Help", null, about, diagnostics);
        MenuItem undoRemove = new MenuItem("Undo remove");
        undoRemove.setId("undo-remove");
        undoRemove.setAccelerator(KeyCombination.keyCombination("Shortcut+Z"));
        undoRemove.setOnAction(e -> {
            // Ctrl+Z in a text field undoes the typing there, not a removal
            javafx.scene.Node focus = window.get() == null || window.get().getScene() == null ? null
                    : window.get().getScene().getFocusOwner();
            if (!(focus instanceof javafx.scene.control.TextInputControl)) {
                controller.data().undoRemove();
            }
        });
        undoRemove.disableProperty().bind(controller.data().canUndoRemove().not());
        Menu edit = new Menu("Edit", null, undoRemove);
        return new MenuBar(file, edit, runMenu, view, help);
    }

    /** The engine report in a dialog, selectable, with a button that copies it for a bug report. */
    private void showDiagnostics(String text) {
        model.status().set("Engine diagnostics ready");
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

    ToolBar toolbar() {
        Button start = new Button("▶ Personalise");
        start.setId("personalise");
        start.getStyleClass().add("primary");
        start.setOnAction(e -> controller.run().start());
        start.disableProperty().bind(model.running().or(model.backbone().isNull()).or(Bindings.isEmpty(model.exits()))
                .or(Bindings.isEmpty(model.images())));
        start.setTooltip(new Tooltip("Train the exits on the imported images (the backbone stays frozen)"));
        Button cancel = new Button("■ Cancel");
        cancel.setId("cancel");
        cancel.setOnAction(e -> controller.run().cancel());
        cancel.disableProperty().bind(model.running().not());
        ProgressBar bar = new ProgressBar();
        bar.setId("progress");
        bar.setPrefWidth(240);
        bar.progressProperty().bind(model.progress());
        Label phase = new Label();
        phase.setId("phase");
        phase.textProperty().bind(model.phase());
        Label eta = new Label();
        eta.textProperty().bind(model.eta());
        eta.getStyleClass().add("hint");
        Region spacer = new Region();
        HBox.setHgrow(spacer, Priority.ALWAYS);
        javafx.scene.control.SplitMenuButton export = new javafx.scene.control.SplitMenuButton();
        export.setText("Export bundle…");
        export.setId("export");
        export.setOnAction(e -> chooseExport(false));
        MenuItem asJava = new MenuItem("Java bundle (EarlyExitModel)…");
        asJava.setOnAction(e -> chooseExport(false));
        MenuItem asTorchScript = new MenuItem("TorchScript / PyTorch Mobile…");
        asTorchScript.setOnAction(e -> chooseExport(true));
        export.getItems().addAll(asJava, asTorchScript);
        export.disableProperty().bind(model.resultsFinal().not().or(model.running()));
        // a disabled button shows no tooltip: while nothing runs, say what is missing before a run can start
        Label why = new Label();
        why.setId("personalise-hint");
        why.getStyleClass().add("hint");
        why.textProperty().bind(Bindings.createStringBinding(() -> model.running().get() ? ""
                        : controller.run().cannotStart().orElse(""),
                model.running(), model.backbone(), model.exits(), model.images()));
        HBox live = new HBox(8, bar, phase, eta, why);
        live.setAlignment(Pos.CENTER_LEFT);
        return new ToolBar(start, cancel, live, spacer, export);
    }

    StatusBar statusBar() {
        StatusBar sb = new StatusBar();
        sb.setId("status");
        sb.textProperty().bind(model.status());
        Label stall = new Label();
        stall.setId("stall");
        javafx.beans.property.BooleanProperty ran = new javafx.beans.property.SimpleBooleanProperty();
        model.running().addListener((o, a, b) -> ran.set(ran.get() || b));
        stall.textProperty().bind(Bindings.createStringBinding(() -> !ran.get() ? ""
                : String.format(Locale.ROOT, "UI stall ≤ %.0f ms", model.longestStallMs().get()),
                model.longestStallMs(), ran));
        stall.getStyleClass().add("hint");
        // the status line gives way, not the stall figure (it was elided to "UI stall ≤ 11..." after a run)
        stall.setMinWidth(Region.USE_PREF_SIZE);
        javafx.scene.control.Tooltip stallTip = new javafx.scene.control.Tooltip(
                "The longest time the window went without repainting during the last run");
        stall.setTooltip(stallTip);
        // a long status line is cut at the window's edge: the tooltip shows all of it
        javafx.scene.control.Tooltip tip = new javafx.scene.control.Tooltip();
        tip.textProperty().bind(model.status());
        tip.setWrapText(true);
        tip.setMaxWidth(600);
        sb.setTooltip(tip);
        sb.getRightItems().add(stall);
        sb.setPadding(new Insets(2, 8, 2, 8));
        return sb;
    }

    void chooseImages() {
        FileChooser fc = new FileChooser();
        fc.setTitle("Import images");
        fc.getExtensionFilters().add(new FileChooser.ExtensionFilter("Images", "*.png", "*.jpg", "*.jpeg", "*.bmp",
                "*.gif", "*.PNG", "*.JPG", "*.JPEG"));
        List<File> files = fc.showOpenMultipleDialog(window.get());
        if (files != null && !files.isEmpty()) {
            controller.data().importPaths(files.stream().map(File::toPath).toList());
        }
    }

    private void chooseExport(boolean torchScript) {
        DirectoryChooser dc = new DirectoryChooser();
        dc.setTitle(torchScript ? "Export the tuned exits as a TorchScript / PyTorch Mobile module to a folder"
                : "Export the tuned exit bundle to a folder");
        List<String> warnings = controller.export().warnings();
        if (!warnings.isEmpty()) {
            Alert a = new Alert(Alert.AlertType.CONFIRMATION, String.join("\n\n", warnings)
                    + "\n\nExport this result anyway?", javafx.scene.control.ButtonType.CANCEL,
                    javafx.scene.control.ButtonType.OK);
            a.setTitle("This result looks broken");
            a.setHeaderText("Personalisation did not work on these images");
            a.initOwner(window.get());
            if (a.showAndWait().filter(b -> b == javafx.scene.control.ButtonType.OK).isEmpty()) {
                return;
            }
        }
        File f = dc.showDialog(window.get());
        if (f != null) {
            if (torchScript) {
                controller.export().exportTorchScript(torchScriptTarget(f.toPath()));
            } else {
                controller.export().export(exportTarget(f.toPath()));
            }
        }
    }

    /** An empty folder or an earlier TorchScript export is written in place; otherwise a new subfolder is used. */
    static Path torchScriptTarget(Path chosen) {
        return target(chosen, "deploy.json", "persephonee-torchscript");
    }

    /** An empty folder or an earlier bundle is written in place; otherwise a new subfolder is used. */
    static Path exportTarget(Path chosen) {
        return target(chosen, "exit-config.json", "persephonee-bundle");
    }

    /** {@code chosen} when it is empty or holds {@code marker}; else its first free {@code name}, {@code name-2}, … */
    private static Path target(Path chosen, String marker, String name) {
        try (var s = Files.list(chosen)) {
            if (s.findAny().isEmpty() || Files.isRegularFile(chosen.resolve(marker))) {
                return chosen;
            }
        } catch (Exception e) {
            return chosen;
        }
        Path p = chosen.resolve(name);
        int i = 2;
        while (Files.exists(p) && !Files.isRegularFile(p.resolve(marker))) {
            p = chosen.resolve(name + "-" + i++);
        }
        return p;
    }
}
