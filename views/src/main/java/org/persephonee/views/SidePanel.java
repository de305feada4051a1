package org.persephonee.views;

import javafx.collections.FXCollections;
import javafx.collections.ObservableList;
import javafx.geometry.Insets;
import javafx.scene.Node;
import javafx.scene.control.Label;
import javafx.scene.control.Slider;
import javafx.scene.layout.Priority;
import javafx.scene.layout.VBox;
import org.controlsfx.control.PropertySheet;
import org.persephonee.core.eval.ThresholdSweep;
import org.persephonee.core.exits.HeadSpec;
import org.persephonee.core.exits.HeadType;

import java.util.List;
import java.util.Locale;

/** Right-hand side: the selected exit's editor and the personalisation settings (ControlsFX PropertySheets). */
public final class SidePanel {
    private final LabModel model;
    private final ObservableList<PropertySheet.Item> exitItems = FXCollections.observableArrayList();
    private final Label exitTitle = new Label("Select an exit on the graph to edit it");
    private final Slider exitThreshold = new Slider(0, ThresholdSweep.OFF, 0.9);

    public SidePanel(LabModel model) {
        this.model = model;
    }

    /**
     * Editors as ControlsFX makes them, except head types and teachers, which show their display names
     * ("Grid + linear", "ensemble") instead of their constant names.
     */
    private org.controlsfx.property.editor.PropertyEditor<?> editor(PropertySheet.Item item) {
        if (item.getType() == HeadType.class) {
            return named(item, HeadType.values(), HeadType::display, "head-type-editor");
        }
        if (item.getType() == org.persephonee.core.personalise.Teacher.class) {
            return named(item, org.persephonee.core.personalise.Teacher.values(),
                    org.persephonee.core.personalise.Teacher::display, "teacher-editor");
        }
        if (item.getType() == org.persephonee.core.personalise.FinalRefit.class) {
            return named(item, org.persephonee.core.personalise.FinalRefit.values(),
                    org.persephonee.core.personalise.FinalRefit::display, "final-refit-editor");
        }
        if (item.getType() == Double.class || item.getType() == Integer.class) {
            return narrow(numeric(item, item.getType() == Integer.class));
        }
        return narrow(new org.controlsfx.property.editor.DefaultPropertyEditorFactory().call(item));
    }

    /**
     * A number field that takes what a person types: a decimal comma as well as a point ("0,01"), a sign, and text
     * that is not a number is refused out loud (the field turns red, the status line names the setting and what was
     * kept) when Enter or leaving the field commits it. ControlsFX's numeric field dropped the comma as it was typed,
     * so "0,01" became a learning rate of 1.0, and other text silently went back.
     */
    private org.controlsfx.property.editor.PropertyEditor<Object> numeric(PropertySheet.Item item, boolean integer) {
        javafx.scene.control.TextField field = new javafx.scene.control.TextField(shown(item.getValue()));
        field.setId("number-" + item.getName().toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9]+", "-"));
        javafx.beans.property.ObjectProperty<Object> value =
                new javafx.beans.property.SimpleObjectProperty<>(item.getValue());
        Runnable commit = () -> {
            String typed = field.getText().strip();
            Object parsed = parseNumber(typed, integer);
            if (parsed == null) {
                if (!field.getStyleClass().contains("invalid")) {
                    field.getStyleClass().add("invalid");
                }
                model.status().set(item.getName() + ": '" + typed + "' is not " + (integer ? "a whole number" : "a number")
                        + "; kept " + shown(item.getValue()));
                return;
            }
            field.getStyleClass().remove("invalid");
            value.set(parsed);
            // what the setting took (a setter may clamp it: epochs 1-1000, ...)
            field.setText(shown(item.getValue()));
        };
        field.setOnAction(e -> commit.run());
        field.focusedProperty().addListener((o, was, is) -> {
            if (!is) {
                commit.run();
            }
        });
        return new org.controlsfx.property.editor.AbstractPropertyEditor<Object, javafx.scene.control.TextField>(
                item, field) {
            @Override protected javafx.beans.value.ObservableValue<Object> getObservableValue() { return value; }

            @Override public void setValue(Object v) {
                value.set(v);
                field.setText(shown(v));
                field.getStyleClass().remove("invalid");
            }
        };
    }

    /** A setting's number as the field shows it (as Java writes it: "10", "0.03"). */
    private static String shown(Object v) {
        return v == null ? "" : v.toString();
    }

    /** The number a person typed ("0,01" and "0.01" alike), or null when it is not one (or not finite). */
    static Object parseNumber(String typed, boolean integer) {
        String t = typed.replace(',', '.');
        try {
            if (integer) {
                return Integer.valueOf(t);
            }
            double d = Double.parseDouble(t);
            return Double.isFinite(d) ? d : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** Preferred width of an editor; it still grows into the space the property's name leaves. */
    private static final double EDITOR_PREF_WIDTH = 70;

    /**
     * The sheet gives its names and editors their preferred widths when the panel is wide enough and shrinks both
     * when it is not; a text field's preferred width (12 columns) cut the names off at the panel's 320 px
     * ("Pseudo-label con..."). A narrow preferred width keeps every name whole and lets the editor take the rest
     * (combo boxes keep theirs: their choice must stay readable).
     */
    private static <T> org.controlsfx.property.editor.PropertyEditor<T> narrow(
            org.controlsfx.property.editor.PropertyEditor<T> editor) {
        if (editor != null && editor.getEditor() instanceof javafx.scene.layout.Region r) {
            r.setPrefWidth(EDITOR_PREF_WIDTH);
        }
        return editor;
    }

    /** A combo box of {@code values} shown by their display names. */
    private static <T> org.controlsfx.property.editor.PropertyEditor<T> named(PropertySheet.Item item, T[] values,
            java.util.function.Function<T, String> display, String id) {
        javafx.scene.control.ComboBox<T> box =
                new javafx.scene.control.ComboBox<>(FXCollections.observableArrayList(values));
        box.setConverter(new javafx.util.StringConverter<>() {
            @Override public String toString(T t) { return t == null ? "" : display.apply(t); }

            @Override public T fromString(String s) {
                for (T t : values) {
                    if (display.apply(t).equals(s)) {
                        return t;
                    }
                }
                return null;
            }
        });
        box.setId(id);
        return new org.controlsfx.property.editor.AbstractPropertyEditor<T, javafx.scene.control.ComboBox<T>>(
                item, box) {
            @Override protected javafx.beans.value.ObservableValue<T> getObservableValue() {
                return getEditor().getSelectionModel().selectedItemProperty();
            }

            @Override public void setValue(T value) {
                getEditor().getSelectionModel().select(value);
            }
        };
    }

    /** Height of one row of the exit editor's property sheet. */
    private static final double ROW_HEIGHT = 30;

    public Node build() {
        exitTitle.getStyleClass().add("pane-title");
        exitTitle.setWrapText(true);
        PropertySheet exitSheet = new PropertySheet(exitItems);
        exitSheet.setId("exit-editor");
        exitSheet.setModeSwitcherVisible(false);
        exitSheet.setSearchBoxVisible(false);
        exitSheet.setMode(PropertySheet.Mode.NAME);
        // as tall as its rows (one to three): a fixed height left an empty gap above the threshold slider
        exitSheet.prefHeightProperty().bind(javafx.beans.binding.Bindings.size(exitItems).multiply(ROW_HEIGHT).add(6));
        exitSheet.setMinHeight(javafx.scene.layout.Region.USE_PREF_SIZE);
        exitSheet.visibleProperty().bind(javafx.beans.binding.Bindings.isNotEmpty(exitItems));
        exitSheet.managedProperty().bind(exitSheet.visibleProperty());
        exitSheet.setPropertyEditorFactory(this::editor);
        exitThreshold.setId("exit-threshold");
        exitThreshold.setShowTickLabels(true);
        exitThreshold.setMajorTickUnit(0.25);
        // the slider's last position (just above 1) means "nobody leaves here": its end label says so instead of
        // "1.01", and the label at 1 gives way to it (the two are a pixel or two apart)
        exitThreshold.setLabelFormatter(new javafx.util.StringConverter<>() {
            @Override public String toString(Double v) {
                return v > 1 ? "off" : v >= 1 - 1e-9 ? "" : String.format(Locale.ROOT, "%.2f", v)
                        .replaceAll("0+$", "").replaceAll("\\.$", "");
            }

            @Override public Double fromString(String s) {
                return s.equals("off") ? ThresholdSweep.OFF : Double.parseDouble(s);
            }
        });
        Label tl = new Label();
        tl.setId("exit-threshold-caption");
        // from the slider's value, not its changes: an exit selected at the value the slider already had (a new
        // exit after another one, both off) left the caption empty, a blank line above the slider
        tl.textProperty().bind(javafx.beans.binding.Bindings.createStringBinding(() -> {
            double v = exitThreshold.getValue();
            return v > 1 ? "threshold: off (nobody leaves here)"
                    : String.format(Locale.ROOT, "threshold: leave when confidence ≥ %.2f", v);
        }, exitThreshold.valueProperty()));
        exitThreshold.valueProperty().addListener((o, a, b) -> {
            ExitModel e = model.selectedExit().get();
            if (e != null && Math.abs(e.threshold() - b.doubleValue()) > 1e-9) {
                e.thresholdProperty().set(b.doubleValue());
            }
        });
        for (Node n : List.of(tl, exitThreshold)) {
            n.visibleProperty().bind(model.selectedExit().isNotNull());
            n.managedProperty().bind(n.visibleProperty());
        }
        VBox exitBox = new VBox(6, exitTitle, exitSheet, tl, exitThreshold);
        exitBox.disableProperty().bind(model.selectedExit().isNull());
        model.selectedExit().addListener((o, a, b) -> showExit(b));
        model.exits().addListener((javafx.collections.ListChangeListener<ExitModel>) c -> {
            if (model.selectedExit().get() != null && !model.exits().contains(model.selectedExit().get())) {
                model.selectedExit().set(null);
            }
        });

        Label settingsTitle = new Label("Personalisation");
        settingsTitle.getStyleClass().add("pane-title");
        PropertySheet settings = new PropertySheet(settingsItems());
        settings.setPropertyEditorFactory(this::editor);
        settings.setId("settings");
        settings.setModeSwitcherVisible(false);
        settings.setSearchBoxVisible(false);
        settings.setMode(PropertySheet.Mode.NAME);
        settings.disableProperty().bind(model.running());
        VBox.setVgrow(settings, Priority.ALWAYS);
        Label detected = new Label();
        detected.setId("label-regime");
        detected.setWrapText(true);
        detected.getStyleClass().add("hint");
        detected.textProperty().bind(javafx.beans.binding.Bindings.createStringBinding(() -> {
            long train = model.images().stream().filter(i -> !i.test()).count();
            long lab = model.images().stream().filter(i -> !i.test() && i.label() != null).count();
            long test = model.images().stream().filter(ImageItem::test).count();
            if (model.images().isEmpty()) {
                return "No images yet.";
            }
            // who teaches where labels are missing follows the "Who teaches" setting
            String teacher = model.teacher().get() == org.persephonee.core.personalise.Teacher.FINAL
                    ? "the final exit" : "the final exit, then the exits' late ensemble";
            // labels present but switched off by "Labels used: none" are named as such, not as "partly labelled"
            boolean off = model.labels().get().kind() == org.persephonee.core.personalise.LabelRegime.Kind.NONE;
            String regime = lab == 0 || off ? (lab == 0 ? "no labels" : "labels not used (Labels used: none)") + ": "
                    + teacher + " teach" + (teacher.contains(",") ? "" : "es") + " every exit"
                    : lab == train ? "fully labelled" : String.format(Locale.ROOT,
                    "partly labelled (%.0f%%): labels plus %s as teacher", 100.0 * lab / train, teacher);
            // no test photos: what the figures will be (the run's own rule; too few photos keep a seeded hold-out)
            long testLabelled = model.images().stream().filter(i -> i.test() && i.label() != null).count();
            boolean outOfFold = testLabelled == 0 && org.persephonee.core.personalise.PersonalisationJob
                    .scoresOutOfFold(train, org.persephonee.core.personalise.PersonalisationConfig.DEFAULT_VALIDATION_FOLDS);
            String scored = !outOfFold ? "" : lab > 0 && !off
                    ? " No test photos: every photo trains, and accuracy is measured on the labelled ones, out of fold."
                    : " No test photos: every photo trains; without labels the figures are agreement with the teacher.";
            return String.format(Locale.ROOT, "Detected: %d training images, %d labelled, %d test — %s.%s", train, lab,
                    test, regime, scored);
        }, model.images(), model.teacher(), model.labels()));
        // the last run's guessed classes, next to the field that names the person's own (the status line's end is
        // cut at the window's edge)
        Label classesNote = new Label();
        classesNote.setId("classes-note");
        classesNote.setWrapText(true);
        classesNote.getStyleClass().add("hint");
        classesNote.textProperty().bind(javafx.beans.binding.Bindings.createStringBinding(() -> classesNote(
                model.labelSpace().get(), model.labelSpaceGuessed().get(), model.classes().get(),
                model.labelSpaceLeftOut().get()),
                model.labelSpace(), model.labelSpaceGuessed(), model.classes(), model.labelSpaceLeftOut()));
        classesNote.visibleProperty().bind(classesNote.textProperty().isNotEmpty());
        classesNote.managedProperty().bind(classesNote.visibleProperty());
        // why the person's labels left the final exit as the backbone shipped it
        Label finalNote = new Label();
        finalNote.setId("final-note");
        finalNote.setWrapText(true);
        finalNote.getStyleClass().add("hint");
        finalNote.textProperty().bind(javafx.beans.binding.Bindings.createStringBinding(() -> finalNote(
                model.refitChoice().get()), model.refitChoice()));
        finalNote.visibleProperty().bind(finalNote.textProperty().isNotEmpty());
        finalNote.managedProperty().bind(finalNote.visibleProperty());
        VBox box = new VBox(8, exitBox, settingsTitle, detected, classesNote, finalNote, settings);
        box.setPadding(new Insets(10));
        box.setPrefWidth(345);
        return box;
    }

    /**
     * What the side panel says about the last run's classes: when they were guessed (no labels, none named) and
     * none are named since, which they were, those the guess left out although the backbone named them first for
     * many photos, and where to name the person's own; otherwise nothing.
     */
    static String classesNote(java.util.List<String> space, boolean guessed, String named,
                              java.util.List<String> leftOut) {
        if (!guessed || space.isEmpty() || (named != null && !named.isBlank())) {
            return "";
        }
        String left = leftOut == null || leftOut.isEmpty() ? ""
                : " It left out " + String.join("; ", leftOut) + ": the backbone was seldom sure.";
        return "The last run guessed " + space.size() + " classes without labels: " + String.join(", ", space)
                + "." + left + " A capture shift misleads the guess; if the photos show other classes, name them in "
                + "Person's classes below.";
    }

    /**
     * What the side panel says when the last run kept the backbone's classifier as the final exit although it had
     * labels (a re-fit on them was worse out of fold); otherwise nothing.
     */
    static String finalNote(String refitChoice) {
        String kept = "the backbone's classifier kept: ";
        if (refitChoice == null || !refitChoice.startsWith(kept)) {
            return "";
        }
        return "The last run kept the backbone's classifier as the final exit: re-fitted on the labels it was worse "
                + refitChoice.substring(kept.length()) + ". More labels may change that; Re-fit classifier below "
                + "decides it.";
    }

    /** The exit whose threshold the slider follows, and the listener that does it (one at a time). */
    private ExitModel followed;
    private final javafx.beans.value.ChangeListener<Number> follow = (o, a, b) -> exitThreshold.setValue(b.doubleValue());

    private void showExit(ExitModel e) {
        exitItems.clear();
        if (followed != null) {
            followed.thresholdProperty().removeListener(follow);
            followed = null;
        }
        if (e == null) {
            exitTitle.setText("Select an exit on the graph to edit it");
            return;
        }
        exitTitle.setText("Exit after " + e.stage());
        exitThreshold.setValue(e.threshold());
        e.thresholdProperty().addListener(follow);
        followed = e;
        exitItems.add(new SheetItem(HeadType.class, "Exit", "Head type", "Linear, conv, MLP or grid head",
                () -> e.head().type(), v -> {
                    e.headProperty().set(HeadSpec.of((HeadType) v).withDefaultsFrom(e.head()));
                    // the hyper-parameters shown depend on the type
                    javafx.application.Platform.runLater(() -> {
                        if (model.selectedExit().get() == e) {
                            showExit(e);
                        }
                    });
                }, e.headProperty()));
        switch (e.head().type()) {
            case CONV -> {
                exitItems.add(new SheetItem(Integer.class, "Exit", "Conv channels", "Channels of a conv head",
                        () -> e.head().channels(), v -> e.headProperty().set(new HeadSpec(e.head().type(),
                        clampInt(v, 1, 512), e.head().convLayers(), e.head().hidden())), e.headProperty()));
                exitItems.add(new SheetItem(Integer.class, "Exit", "Conv layers", "1 or 2 conv blocks in a conv head",
                        () -> e.head().convLayers(), v -> e.headProperty().set(new HeadSpec(e.head().type(),
                        e.head().channels(), clampInt(v, 1, 2), e.head().hidden())), e.headProperty()));
            }
            case GRID -> exitItems.add(new SheetItem(Integer.class, "Exit", "Grid cells per side",
                    "The stage output is average-pooled to this many cells per side (1-16) before the linear layer",
                    () -> e.head().channels(), v -> e.headProperty().set(new HeadSpec(e.head().type(),
                    clampInt(v, 1, 16), e.head().convLayers(), e.head().hidden())), e.headProperty()));
            case MLP -> exitItems.add(new SheetItem(Integer.class, "Exit", "MLP hidden units", "Hidden units of an MLP head",
                    () -> e.head().hidden(), v -> e.headProperty().set(new HeadSpec(e.head().type(),
                    e.head().channels(), e.head().convLayers(), clampInt(v, 1, 4096))), e.headProperty()));
            default -> { }
        }
    }

    private static int clampInt(Object v, int lo, int hi) {
        int i = ((Number) v).intValue();
        return Math.max(lo, Math.min(hi, i));
    }

    private ObservableList<PropertySheet.Item> settingsItems() {
        ObservableList<PropertySheet.Item> items = FXCollections.observableArrayList();
        items.add(new SheetItem(String.class, "Data", "Labels used", "all, none, or a fraction such as 0.1",
                () -> model.labels().get().toString(), v -> {
                    try {
                        model.labels().set(org.persephonee.core.personalise.LabelRegime.parse(v.toString()));
                    } catch (IllegalArgumentException e) {
                        // the regime in force stays (the typed text is not applied); the status line says why
                        model.status().set("Labels used: " + e.getMessage());
                    }
                }, model.labels()));
        items.add(new SheetItem(String.class, "Data", "Person's classes",
                "The classes this person's photos show, comma-separated (T-shirt/top, Trouser, ...), instead of "
                        + "labelling photos. Blank: the labelled classes, or with no labels the classes the backbone "
                        + "predicts confidently, which a capture shift misleads (night-owl without labels: 7 classes "
                        + "for its 5, the extra ones taking its photos)",
                () -> model.classes().get(), v -> model.classes().set(v == null ? "" : v.toString().strip()),
                model.classes()));
        items.add(new SheetItem(Integer.class, "Training", "Epochs", "Passes over the cached features",
                model.epochs()::get, v -> model.epochs().set(clampInt(v, 1, 1000)), model.epochs()));
        items.add(new SheetItem(Double.class, "Training", "Learning rate", "Adam learning rate of the exit heads",
                model.learningRate()::get, v -> model.learningRate().set(((Number) v).doubleValue()), model.learningRate()));
        items.add(new SheetItem(org.persephonee.core.personalise.Teacher.class, "Teacher", "Who teaches",
                "Who teaches the exits on unlabelled images. ensemble: the final exit teaches a first round, then "
                        + "fresh exits learn from the late ensemble of that round (the later half of the exits and the "
                        + "final exit; the default, better on the sample personas). final exit: the final exit alone, "
                        + "as in the paper", model.teacher()::get,
                v -> model.teacher().set((org.persephonee.core.personalise.Teacher) v), model.teacher()));
        items.add(new SheetItem(org.persephonee.core.personalise.FinalRefit.class, "Teacher", "Re-fit classifier",
                "With labels, the final classifier is re-fitted on them and then teaches the exits. if not worse: "
                        + "a re-fit that is worse than the backbone's classifier on the labelled photos, out of fold, "
                        + "is dropped (the default: with a few labels a re-fit can forget what the classifier knew; "
                        + "tilted-phone, 8 labels: 63-73 % re-fitted, 72-73 % kept). always: as in the paper. never: "
                        + "the backbone's classifier stays the final exit", model.finalRefit()::get,
                v -> model.finalRefit().set((org.persephonee.core.personalise.FinalRefit) v), model.finalRefit()));
        items.add(new SheetItem(Double.class, "Teacher", "Pseudo-label confidence",
                "The teacher's confidence needed to turn an unlabelled image into a pseudo-label",
                model.pseudoThreshold()::get, v -> model.pseudoThreshold().set(((Number) v).doubleValue()),
                model.pseudoThreshold()));
        items.add(new SheetItem(Double.class, "Teacher", "Distillation temperature",
                "Softens the teacher's output for the other unlabelled images", model.temperature()::get,
                v -> model.temperature().set(((Number) v).doubleValue()), model.temperature()));
        items.add(new SheetItem(Boolean.class, "Training", "Update the last run",
                "New photos without starting over: the heads start from the last run's, the backbone runs only on "
                        + "photos it has not seen, and the operating point is chosen on held-out predictions kept from "
                        + "earlier runs (no cross-fitting; about a tenth of the time). Runs from scratch when the "
                        + "exits, the backbone or the classes changed", model.updateLastRun()::get,
                v -> model.updateLastRun().set((Boolean) v), model.updateLastRun()));
        items.add(new SheetItem(Integer.class, "Training", "Seed", "Same seed, same result", model.seed()::get,
                v -> model.seed().set(((Number) v).intValue()), model.seed()));
        items.add(new SheetItem(Double.class, "Policy", "Accuracy budget (points)",
                "Accuracy the automatic operating point may give up against the best single head (an exit or the final exit), "
                        + "judged on the training images out of fold with each class weighing the same",
                model.maxDrop()::get, v -> model.maxDrop().set(Math.max(0, ((Number) v).doubleValue())), model.maxDrop()));
        return items;
    }
}
