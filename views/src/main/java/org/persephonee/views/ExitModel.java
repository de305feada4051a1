package org.persephonee.views;

import javafx.beans.property.DoubleProperty;
import javafx.beans.property.ObjectProperty;
import javafx.beans.property.SimpleDoubleProperty;
import javafx.beans.property.SimpleObjectProperty;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;

/** An exit placed in the lab: its stage, head design and confidence threshold. */
public final class ExitModel {
    private final String stage;
    private final ObjectProperty<HeadSpec> head = new SimpleObjectProperty<>() {
        @Override
        public void set(HeadSpec v) {
            if (!java.util.Objects.equals(v, get())) {
                super.set(v);
            }
        }
    };
    private final DoubleProperty threshold = new SimpleDoubleProperty(0.9);

    public ExitModel(String stage, HeadSpec head, double threshold) {
        this.stage = stage;
        this.head.set(head);
        this.threshold.set(threshold);
    }

    public String stage() { return stage; }

    public ObjectProperty<HeadSpec> headProperty() { return head; }

    public HeadSpec head() { return head.get(); }

    public DoubleProperty thresholdProperty() { return threshold; }

    public double threshold() { return threshold.get(); }

    public ExitPlacement placement() { return new ExitPlacement(stage, head.get()); }

    /** {@code stage:headId}. */
    public String key() { return ExitPlacement.key(stage, head.get()); }

    @Override
    public String toString() { return key(); }
}
