package org.persephonee.core.personalise;

/**
 * Who teaches the exits on the unlabelled images.
 */
public enum Teacher {
    /** The (personalised) final exit, as in the paper. */
    FINAL("final exit"),
    /**
     * Two rounds sharing the epochs: the exits first learn from the final exit (the larger half of the epochs),
     * then fresh exits learn from the late ensemble of that round (the mean probabilities of the later half of
     * the exits and the final exit), which beats the final exit when the late exits do. Head training costs what
     * one round would.
     */
    ENSEMBLE("ensemble");

    private final String display;

    Teacher(String display) { this.display = display; }

    public String display() { return display; }
}
