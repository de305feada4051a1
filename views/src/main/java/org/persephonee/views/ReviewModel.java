package org.persephonee.views;

import javafx.beans.property.IntegerProperty;
import javafx.beans.property.ReadOnlyIntegerProperty;
import javafx.beans.property.SimpleIntegerProperty;
import javafx.beans.property.SimpleStringProperty;
import javafx.beans.property.StringProperty;
import javafx.collections.FXCollections;
import javafx.collections.ObservableList;
import org.persephonee.core.review.ReviewQueue;

import java.util.List;

/**
 * The review queue's state: the photos to label in order, where the person is, the classes the number keys pick,
 * how many labels until the exits re-fit, and the accuracy after each run against the labels it had. Changed on the
 * thread that owns the lab's model.
 */
public final class ReviewModel {
    /**
     * One photo to review.
     *
     * @param image the photo in the lab
     * @param guesses the run's three most likely classes with their confidences
     * @param exit the stage of the exit that would take it, or "final"
     */
    public record Item(ImageItem image, List<ReviewQueue.Guess> guesses, String exit) { }

    /**
     * The accuracy after a run.
     *
     * @param labels labelled training photos the run had
     * @param reviewed of them, labelled in the review queue
     * @param accuracy the operating point's accuracy (on the test photos, or the out-of-fold estimate without them)
     * @param on what the accuracy was measured on
     * @param images how many labelled photos it was measured on (0 when unknown): the chart's 95 % interval
     */
    public record Point(int labels, int reviewed, double accuracy, String on, int images) { }

    /** Labels between two re-fits unless the person says otherwise. */
    public static final int DEFAULT_REFIT_EVERY = 10;

    private final ObservableList<Item> queue = FXCollections.observableArrayList();
    private final IntegerProperty position = new SimpleIntegerProperty();
    private final ObservableList<String> choices = FXCollections.observableArrayList();
    private final IntegerProperty refitEvery = new SimpleIntegerProperty(DEFAULT_REFIT_EVERY);
    private final IntegerProperty sinceRefit = new SimpleIntegerProperty();
    private final ObservableList<Point> history = FXCollections.observableArrayList();
    private final StringProperty message = new SimpleStringProperty(
            "Personalise once: the photos a label would help most then queue up here.");

    /** The photos to review, the one to label first first. */
    public ObservableList<Item> queue() { return queue; }

    /** The index of the photo shown in {@link #queue()} (its size when the queue is done). */
    public IntegerProperty position() { return position; }

    /** The item shown, or null when the queue is empty or done. */
    public Item current() {
        int p = position.get();
        return p >= 0 && p < queue.size() ? queue.get(p) : null;
    }

    /** Class names in key order: key 1 picks the first, ..., key 9 the ninth, key 0 the tenth. */
    public ObservableList<String> choices() { return choices; }

    /** Labels between two background re-fits of the exits. */
    public IntegerProperty refitEvery() { return refitEvery; }

    /** Labels given since the last re-fit started. */
    public ReadOnlyIntegerProperty sinceRefit() { return sinceRefit; }

    IntegerProperty sinceRefitWritable() { return sinceRefit; }

    /** Accuracy after each run of this session, against the labels it had. */
    public ObservableList<Point> history() { return history; }

    /** What the queue says now (empty, done, re-fitting...). */
    public StringProperty message() { return message; }
}
