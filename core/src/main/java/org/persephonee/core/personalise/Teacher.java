package org.persephonee.core.personalise;

/**
 * Who teaches the exits on the unlabelled images.
 */
public enum Teacher {
    /** The (personalised) final exit, as in the paper. */
    FINAL("final exit"),
    /**
     * A second round: the exits first learn from the final exit, then fresh exits learn again from the late
     * ensemble of the first round (the mean probabilities of the later half of the exits and the final exit),
     * which beats the final exit when the late exits do.
     */
    ENSEMBLE("late ensemble (second round)");

    private final String display;

    Teacher(String display) { this.display = display; }

    public String display() { return display; }
}
