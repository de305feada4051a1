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
 * thread only.
 */
public final class LabModel {
    // backbone
    public final ObjectProperty<Backbone> backbone = new SimpleObjectProperty<>();
    public final ObjectProperty<LatencyProfile> stageProfile = new SimpleObjectProperty<>();
    public final ObservableList<ExitModel> exits = FXCollections.observableArrayList(
            e -> new javafx.beans.Observable[] {e.headProperty(), e.thresholdProperty()});
    public final ObjectProperty<ExitModel> selectedExit = new SimpleObjectProperty<>();

    // data
    public final ObservableList<ImageItem> images = FXCollections.observableArrayList(
            i -> new javafx.beans.Observable[] {i.labelProperty(), i.testProperty(), i.reviewedProperty()});
    public final ObservableList<String> skipped = FXCollections.observableArrayList();
    public final BooleanProperty importing = new SimpleBooleanProperty();

    // settings
    public final ObjectProperty<org.persephonee.core.personalise.LabelRegime> labels =
            new SimpleObjectProperty<>(org.persephonee.core.personalise.LabelRegime.ALL);
    public final IntegerProperty epochs = new SimpleIntegerProperty(PersonalisationConfig.DEFAULT_EPOCHS);
    public final DoubleProperty learningRate = new SimpleDoubleProperty(PersonalisationConfig.DEFAULT_LEARNING_RATE);
    public final DoubleProperty pseudoThreshold =
            new SimpleDoubleProperty(PersonalisationConfig.DEFAULT_PSEUDO_LABEL_THRESHOLD);
    public final DoubleProperty temperature = new SimpleDoubleProperty(PersonalisationConfig.DEFAULT_TEMPERATURE);
    public final ObjectProperty<org.persephonee.core.personalise.Teacher> teacher =
            new SimpleObjectProperty<>(PersonalisationConfig.DEFAULT_TEACHER);
    public final IntegerProperty seed = new SimpleIntegerProperty((int) PersonalisationConfig.DEFAULT_SEED);
    public final DoubleProperty maxDrop = new SimpleDoubleProperty(PersonalisePipeline.Options.DEFAULT_MAX_DROP);
    /** A device latency profile (JSON) runs are costed with instead of this machine's timings, or null. */
    public final ObjectProperty<java.nio.file.Path> deviceProfile = new SimpleObjectProperty<>();

    // run
    public final BooleanProperty running = new SimpleBooleanProperty();
    public final DoubleProperty progress = new SimpleDoubleProperty(0);
    public final StringProperty phase = new SimpleStringProperty("");
    public final StringProperty eta = new SimpleStringProperty("");
    public final ObservableList<ExitStats> liveStats = FXCollections.observableArrayList();
    public final DoubleProperty longestStallMs = new SimpleDoubleProperty(0);

    // results
    public final ObjectProperty<Evaluation> evaluation = new SimpleObjectProperty<>();
    public final DoubleProperty globalThreshold = new SimpleDoubleProperty(0.9);
    public final ObjectProperty<CascadeResult> current = new SimpleObjectProperty<>();
    public final DoubleProperty genericAccuracy = new SimpleDoubleProperty(Double.NaN);
    public final BooleanProperty curvesInMacs = new SimpleBooleanProperty(false);
    public final BooleanProperty resultsFinal = new SimpleBooleanProperty(false);
    /** True when the curves come from a run whose exits differ from the ones placed now (after Clear, Auto, a drop). */
    public final BooleanProperty curvesStale = new SimpleBooleanProperty(false);
    /** Evaluation image files, in the order of the evaluation's prediction rows. */
    public final ObjectProperty<java.util.List<java.nio.file.Path>> evalPaths = new SimpleObjectProperty<>(
            java.util.List.of());
    /** Personal class names of the current evaluation. */
    public final ObjectProperty<java.util.List<String>> labelSpace = new SimpleObjectProperty<>(java.util.List.of());

    // messages
    public final StringProperty status = new SimpleStringProperty("Ready");
    public final ObservableList<String> errors = FXCollections.observableArrayList();
}
