package org.persephonee.views;

import javafx.beans.property.BooleanProperty;
import javafx.beans.property.DoubleProperty;
import javafx.beans.property.IntegerProperty;
import javafx.beans.property.ObjectProperty;
import javafx.beans.property.SimpleBooleanProperty;
import javafx.beans.property.SimpleDoubleProperty;
import javafx.beans.property.SimpleIntegerProperty;
import javafx.beans.property.SimpleObjectProperty;
import javafx.beans.property.SimpleStringProperty;
import javafx.beans.property.StringProperty;
import javafx.collections.FXCollections;
import javafx.collections.ObservableList;
import org.persephonee.core.personalise.PersonalisationConfig;
import org.persephonee.core.pipeline.PersonalisePipeline;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.eval.CascadeResult;
import org.persephonee.core.eval.Evaluation;
import org.persephonee.core.eval.LatencyProfile;
import org.persephonee.core.personalise.ExitStats;

/**
 * The lab's state, properties only: the single source of truth that views bind to. Changed on the FX
 * thread only. Every property is private and reached through its accessor (as in {@link ReviewModel}).
 */
public final class LabModel {
    // backbone
    private final ObjectProperty<Backbone> backbone = new SimpleObjectProperty<>();
    private final ObjectProperty<LatencyProfile> stageProfile = new SimpleObjectProperty<>();
    private final ObservableList<ExitModel> exits = FXCollections.observableArrayList(
            e -> new javafx.beans.Observable[] {e.headProperty(), e.thresholdProperty()});
    private final ObjectProperty<ExitModel> selectedExit = new SimpleObjectProperty<>();

    // data
    private final ObservableList<ImageItem> images = FXCollections.observableArrayList(
            i -> new javafx.beans.Observable[] {i.labelProperty(), i.testProperty(), i.reviewedProperty()});
    private final ObservableList<String> skipped = FXCollections.observableArrayList();
    private final BooleanProperty importing = new SimpleBooleanProperty();

    // settings
    private final ObjectProperty<org.persephonee.core.personalise.LabelRegime> labels =
            new SimpleObjectProperty<>(org.persephonee.core.personalise.LabelRegime.ALL);
    /** The person's classes as typed (comma-separated), or blank to infer them. */
    private final StringProperty classes = new SimpleStringProperty("");
    private final BooleanProperty labelSpaceGuessed = new SimpleBooleanProperty();
    private final StringProperty refitChoice = new SimpleStringProperty();
    private final ObjectProperty<java.util.List<String>> labelSpaceLeftOut =
            new javafx.beans.property.SimpleObjectProperty<>(java.util.List.of());
    private final ObjectProperty<org.persephonee.core.personalise.FinalRefit> finalRefit =
            new SimpleObjectProperty<>(org.persephonee.core.personalise.FinalRefit.CHECKED);
    private final IntegerProperty epochs = new SimpleIntegerProperty(PersonalisationConfig.DEFAULT_EPOCHS);
    private final DoubleProperty learningRate = new SimpleDoubleProperty(PersonalisationConfig.DEFAULT_LEARNING_RATE);
    private final DoubleProperty pseudoThreshold =
            new SimpleDoubleProperty(PersonalisationConfig.DEFAULT_PSEUDO_LABEL_THRESHOLD);
    private final DoubleProperty temperature = new SimpleDoubleProperty(PersonalisationConfig.DEFAULT_TEMPERATURE);
    private final ObjectProperty<org.persephonee.core.personalise.Teacher> teacher =
            new SimpleObjectProperty<>(PersonalisationConfig.DEFAULT_TEACHER);
    private final IntegerProperty seed = new SimpleIntegerProperty((int) PersonalisationConfig.DEFAULT_SEED);
    private final DoubleProperty maxDrop = new SimpleDoubleProperty(PersonalisePipeline.Options.DEFAULT_MAX_DROP);
    /** Whether a run updates the last one kept in the workspace (new photos only, warm heads) when it can. */
    private final BooleanProperty updateLastRun = new SimpleBooleanProperty(true);
    /** A device latency profile (JSON) runs are costed with instead of this machine's timings, or null. */
    private final ObjectProperty<java.nio.file.Path> deviceProfile = new SimpleObjectProperty<>();

    // run
    private final BooleanProperty running = new SimpleBooleanProperty();
    private final DoubleProperty progress = new SimpleDoubleProperty(0);
    private final StringProperty phase = new SimpleStringProperty("");
    private final StringProperty eta = new SimpleStringProperty("");
    private final ObservableList<ExitStats> liveStats = FXCollections.observableArrayList();
    private final DoubleProperty longestStallMs = new SimpleDoubleProperty(0);

    // results
    private final ObjectProperty<Evaluation> evaluation = new SimpleObjectProperty<>();
    private final DoubleProperty globalThreshold = new SimpleDoubleProperty(0.9);
    private final ObjectProperty<CascadeResult> current = new SimpleObjectProperty<>();
    /**
     * The same exits and thresholds as {@link #current} on the labelled training photos, out of fold (what the
     * operating point was chosen on); null without such predictions (no labels, live curves, an old record).
     */
    private final ObjectProperty<CascadeResult> currentOutOfFold = new SimpleObjectProperty<>();
    private final DoubleProperty genericAccuracy = new SimpleDoubleProperty(Double.NaN);
    private final StringProperty scoredPhotos = new SimpleStringProperty(
            org.persephonee.core.personalise.PersonalisationResult.TEST_PHOTOS);
    private final BooleanProperty curvesInMacs = new SimpleBooleanProperty(false);
    private final BooleanProperty resultsFinal = new SimpleBooleanProperty(false);
    /** True when the curves come from a run whose exits differ from the ones placed now (after Clear, Auto, a drop). */
    private final BooleanProperty curvesStale = new SimpleBooleanProperty(false);
    /** Evaluation image files, in the order of the evaluation's prediction rows. */
    private final ObjectProperty<java.util.List<java.nio.file.Path>> evalPaths = new SimpleObjectProperty<>(
            java.util.List.of());
    /** Personal class names of the current evaluation. */
    private final ObjectProperty<java.util.List<String>> labelSpace = new SimpleObjectProperty<>(java.util.List.of());

    // messages
    private final StringProperty status = new SimpleStringProperty("Ready");
    private final ObservableList<String> errors = FXCollections.observableArrayList();

    // accessors: the properties themselves, for binding and listening
    public BooleanProperty updateLastRun() { return updateLastRun; }
    public ObjectProperty<Backbone> backbone() { return backbone; }
    public ObjectProperty<LatencyProfile> stageProfile() { return stageProfile; }
    public ObservableList<ExitModel> exits() { return exits; }
    public ObjectProperty<ExitModel> selectedExit() { return selectedExit; }
    public ObservableList<ImageItem> images() { return images; }
    public ObservableList<String> skipped() { return skipped; }
    public BooleanProperty importing() { return importing; }
    public ObjectProperty<org.persephonee.core.personalise.LabelRegime> labels() { return labels; }
    public StringProperty classes() { return classes; }
    /** True when the last run's classes were guessed from the backbone's predictions (no labels, none named). */
    public BooleanProperty labelSpaceGuessed() { return labelSpaceGuessed; }
    /**
     * With guessed classes, those the guess left out although the backbone named them first for many photos ("Shirt
     * (the top guess for 76 of 460 photos, sure of 1)"); empty otherwise.
     */
    public ObjectProperty<java.util.List<String>> labelSpaceLeftOut() { return labelSpaceLeftOut; }
    /**
     * Whether the last run re-fitted the final classifier on the labels or kept the backbone's, and why; null when
     * it was not checked (no labels).
     */
    public StringProperty refitChoice() { return refitChoice; }
    /** What a run with labels does with the final classifier (the default re-fits unless that is worse). */
    public ObjectProperty<org.persephonee.core.personalise.FinalRefit> finalRefit() { return finalRefit; }
    public IntegerProperty epochs() { return epochs; }
    public DoubleProperty learningRate() { return learningRate; }
    public DoubleProperty pseudoThreshold() { return pseudoThreshold; }
    public DoubleProperty temperature() { return temperature; }
    public ObjectProperty<org.persephonee.core.personalise.Teacher> teacher() { return teacher; }
    public IntegerProperty seed() { return seed; }
    public DoubleProperty maxDrop() { return maxDrop; }
    public ObjectProperty<java.nio.file.Path> deviceProfile() { return deviceProfile; }
    public BooleanProperty running() { return running; }
    public DoubleProperty progress() { return progress; }
    public StringProperty phase() { return phase; }
    public StringProperty eta() { return eta; }
    public ObservableList<ExitStats> liveStats() { return liveStats; }
    public DoubleProperty longestStallMs() { return longestStallMs; }
    public ObjectProperty<Evaluation> evaluation() { return evaluation; }
    public DoubleProperty globalThreshold() { return globalThreshold; }
    public ObjectProperty<CascadeResult> current() { return current; }
    public ObjectProperty<CascadeResult> currentOutOfFold() { return currentOutOfFold; }
    public DoubleProperty genericAccuracy() { return genericAccuracy; }

    /** True when the last run had no test photos: its curves are the training photos' out-of-fold predictions. */
    public boolean scoredOutOfFold() {
        return org.persephonee.core.personalise.PersonalisationResult.OUT_OF_FOLD_PHOTOS.equals(scoredPhotos.get());
    }

    /**
     * What the curves are on, for a person: "test photos", "training photos, out of fold" without test photos, or
     * "held-out photos" (a run without cross-fitting, or kept before session 35).
     */
    public javafx.beans.property.StringProperty scoredPhotosProperty() { return scoredPhotos; }

    public String scoredPhotos() { return scoredPhotos.get(); }
    public BooleanProperty curvesInMacs() { return curvesInMacs; }
    public BooleanProperty resultsFinal() { return resultsFinal; }
    public BooleanProperty curvesStale() { return curvesStale; }
    public ObjectProperty<java.util.List<java.nio.file.Path>> evalPaths() { return evalPaths; }
    public ObjectProperty<java.util.List<String>> labelSpace() { return labelSpace; }
    public StringProperty status() { return status; }
    public ObservableList<String> errors() { return errors; }
}
