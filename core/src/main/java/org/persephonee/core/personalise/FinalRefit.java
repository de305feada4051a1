package org.persephonee.core.personalise;

/**
 * What a run with labels does with the final classifier ({@link RefitDecision}).
 */
public enum FinalRefit {
    /** Re-fitted on the labels unless a re-fit is worse out of fold on the labelled photos (the default). */
    CHECKED("if not worse"),
    /** Re-fitted whenever there are labels, as in the paper. */
    ALWAYS("always"),
    /** The backbone's classifier, restricted to the person's classes. */
    KEEP("never");

    private final String display;

    FinalRefit(String display) { this.display = display; }

    public String display() { return display; }
}
