package org.persephonee.views;

import javafx.beans.property.BooleanProperty;
import javafx.beans.property.SimpleBooleanProperty;
import javafx.beans.property.SimpleStringProperty;
import javafx.beans.property.StringProperty;
import org.persephonee.core.data.PersonalImage;

import java.nio.file.Path;

/**
 * An imported image in the data pane: its file, label (null when unlabelled), whether it is a test image and whether its
 * label came from the review queue.
 */
public final class ImageItem {
    private final Path path;
    private final StringProperty label = new SimpleStringProperty();
    private final BooleanProperty test = new SimpleBooleanProperty();
    /** The label was given in the review queue (not a random sample of the photos). */
    private final BooleanProperty reviewed = new SimpleBooleanProperty();

    public ImageItem(Path path, String label, boolean test) {
        this.path = path;
        this.label.set(label);
        this.test.set(test);
    }

    public static ImageItem of(PersonalImage i) {
        return new ImageItem(i.path(), i.label(), i.split() == PersonalImage.Split.TEST);
    }

    public Path path() { return path; }

    public StringProperty labelProperty() { return label; }

    public String label() { return label.get(); }

    public BooleanProperty testProperty() { return test; }

    public boolean test() { return test.get(); }

    public BooleanProperty reviewedProperty() { return reviewed; }

    public boolean reviewed() { return reviewed.get(); }

    public PersonalImage toPersonalImage() {
        return new PersonalImage(path, label.get(), test.get() ? PersonalImage.Split.TEST : PersonalImage.Split.TRAIN);
    }
}
