package org.persephonee.core.data;

import java.nio.file.Path;

/**
 * One image of a person's dataset.
 *
 * @param path non-null absolute path of the file
 * @param label class name (the backbone's spelling when it matches one), or null when unlabelled
 * @param split TRAIN for personalisation, TEST for held-out evaluation
 */
public record PersonalImage(Path path, String label, Split split) {

    /** Where an image is used. */
    public enum Split { TRAIN, TEST }

    public boolean labelled() { return label != null; }

    public PersonalImage withLabel(String newLabel) { return new PersonalImage(path, newLabel, split); }

    public PersonalImage withSplit(Split newSplit) { return new PersonalImage(path, label, newSplit); }
}
