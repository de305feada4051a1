package org.persephonee.core.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** One person's images: labelled, unlabelled and held-out test images, with their labels. */
public final class PersonalDataset {
    private final Path root;
    private final List<PersonalImage> images;

    /**
     * Creates a dataset.
     *
     * @param root the folder it came from, or null
     * @param images non-null
     */
    public PersonalDataset(Path root, List<PersonalImage> images) {
        this.root = root;
        this.images = List.copyOf(images);
    }

    public Path root() { return root; }

    public List<PersonalImage> images() { return images; }

    public int size() { return images.size(); }

    /** Labelled training images. */
    public List<PersonalImage> labelled() { return filter(PersonalImage.Split.TRAIN, true); }

    /** Unlabelled training images. */
    public List<PersonalImage> unlabelled() { return filter(PersonalImage.Split.TRAIN, false); }

    /** Held-out test images (labelled ones only are useful for accuracy). */
    public List<PersonalImage> test() {
        List<PersonalImage> out = new ArrayList<>();
        for (PersonalImage i : images) {
            if (i.split() == PersonalImage.Split.TEST) {
                out.add(i);
            }
        }
        return out;
    }

    private List<PersonalImage> filter(PersonalImage.Split split, boolean labelled) {
        List<PersonalImage> out = new ArrayList<>();
        for (PersonalImage i : images) {
            if (i.split() == split && i.labelled() == labelled) {
                out.add(i);
            }
        }
        return out;
    }

    /** Number of labelled images per class, for one split, sorted by class name. */
    public Map<String, Integer> countsByClass(PersonalImage.Split split) {
        Map<String, Integer> m = new TreeMap<>();
        for (PersonalImage i : images) {
            if (i.split() == split && i.labelled()) {
                m.merge(i.label(), 1, Integer::sum);
            }
        }
        return Collections.unmodifiableMap(m);
    }

    /** Distinct class names among labelled images of any split, sorted. */
    public List<String> classNames() {
        TreeMap<String, Boolean> m = new TreeMap<>();
        for (PersonalImage i : images) {
            if (i.labelled()) {
                m.put(i.label(), true);
            }
        }
        return List.copyOf(m.keySet());
    }

    @Override
    public String toString() {
        return String.format("%d images: %d labelled, %d unlabelled, %d test, classes %s", size(), labelled().size(),
                unlabelled().size(), test().size(), classNames());
    }
}
