package org.persephonee.views;

import javafx.beans.property.ObjectProperty;
import javafx.beans.property.SimpleObjectProperty;
import javafx.collections.FXCollections;
import javafx.collections.ObservableList;
import org.persephonee.core.eval.Curve;
import org.persephonee.core.workspace.RunHistory;

/**
 * The workspace's run history: every run kept with its configuration and results, newest first, and the earlier
 * run whose cascade is drawn over the current curves. Changed on the thread that owns the lab's model.
 */
public final class HistoryModel {
    /**
     * An earlier run's cascade front, drawn over the current curves.
     *
     * @param name what the legend calls it
     * @param cascade its cascade curve (a point per threshold)
     */
    public record Overlay(String name, Curve cascade) { }

    private final ObservableList<RunHistory.Entry> runs = FXCollections.observableArrayList();
    private final ObjectProperty<Overlay> overlay = new SimpleObjectProperty<>();
    private final ObservableList<Overlay> comparison = FXCollections.observableArrayList();
    private final javafx.beans.property.BooleanProperty comparing = new javafx.beans.property.SimpleBooleanProperty();

    private final javafx.beans.property.StringProperty comparisonText = new javafx.beans.property.SimpleStringProperty("");

    /**
     * How the newest run's operating point compares with the earlier run drawn over the curves, image by image on the
     * test photos they share (empty when none is drawn).
     */
    public javafx.beans.property.StringProperty comparisonText() { return comparisonText; }

    private final javafx.beans.property.StringProperty regimesText = new javafx.beans.property.SimpleStringProperty("");

    /**
     * After "compare label regimes": the other regimes' operating points against the one with every label, image by
     * image on the same test photos (empty before one, or without labelled test photos).
     */
    public javafx.beans.property.StringProperty regimesText() { return regimesText; }

    /** Kept runs, newest first. */
    public ObservableList<RunHistory.Entry> runs() { return runs; }

    /** The earlier run drawn over the curves, or null. */
    public ObjectProperty<Overlay> overlay() { return overlay; }

    /** The other label regimes' cascades of the last "compare label regimes" (drawn over the curves). */
    public ObservableList<Overlay> comparison() { return comparison; }

    /** True while "compare label regimes" runs its three runs. */
    public javafx.beans.property.BooleanProperty comparing() { return comparing; }
}
