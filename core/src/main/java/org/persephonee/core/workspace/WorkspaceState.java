package org.persephonee.core.workspace;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the lab restores on its next start: the backbone folder, placed exits and thresholds, imported
 * images with their labels and splits, personalisation settings, and where the last run's results live.
 * Plain data, saved as JSON by {@link WorkspaceStore}.
 */
public final class WorkspaceState {
    public static final int VERSION = 1;

    /** A placed exit. */
    public static final class Exit {
        public String stage;
        public String head;
        public double threshold = 0.9;

        public Exit() { }

        public Exit(String stage, String head, double threshold) {
            this.stage = stage;
            this.head = head;
            this.threshold = threshold;
        }
    }

    /** An imported image. */
    public static final class Image {
        public String path;
        public String label;
        public boolean test;
        /** The label was given in the lab's review queue (not a random sample: see the run's labels_chosen). */
        public boolean reviewed;

        public Image() { }

        public Image(String path, String label, boolean test) {
            this.path = path;
            this.label = label;
            this.test = test;
        }
    }

    public int version = VERSION;
    public String backbone;
    public List<Exit> exits = new ArrayList<>();
    public List<Image> images = new ArrayList<>();
    /** Personalisation settings by name (labels, epochs, learning_rate, ...). */
    public Map<String, String> settings = new LinkedHashMap<>();
    public double globalThreshold = 0.9;
    /** Folder (inside the workspace) holding the last run: a bundle with every exit, and its curves. */
    public String lastRun;
}
