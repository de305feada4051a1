package org.persephonee.core.personalise;

/**
 * One exit's state after an epoch.
 *
 * @param stage stage name ({@link PersonalisationResult#FINAL} for the re-fitted final classifier)
 * @param head head id
 * @param trainLoss mean training loss of the epoch
 * @param evalAccuracy accuracy on the evaluation images (agreement with the final exit when they have no labels)
 */
public record ExitStats(String stage, String head, double trainLoss, double evalAccuracy) {
    /** The head id of a final exit that is the backbone's own classifier (not re-fitted for the person). */
    public static final String BACKBONE_CLASSIFIER = "backbone";

    /**
     * The final exit's state.
     *
     * @param refitHeadId the re-fitted final head's id, or null when the final exit is the backbone's classifier
     */
    public static ExitStats finalExit(String refitHeadId, double evalAccuracy) {
        return new ExitStats(PersonalisationResult.FINAL, refitHeadId == null ? BACKBONE_CLASSIFIER : refitHeadId,
                Double.NaN, evalAccuracy);
    }

    /** Whether these are the final exit's figures. */
    public boolean isFinal() {
        return PersonalisationResult.FINAL.equals(stage);
    }

    /** Whether this is a final exit re-fitted for the person (a head of its own, not the backbone's classifier). */
    public boolean isRefitFinal() {
        return isFinal() && !BACKBONE_CLASSIFIER.equals(head);
    }

    /** The exit's key ({@link org.persephonee.core.exits.ExitPlacement#key()}): stage and head id. */
    public String key() {
        return stage + ":" + head;
    }
}
