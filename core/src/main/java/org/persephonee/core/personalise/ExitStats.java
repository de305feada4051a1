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
    /** The exit's key ({@link org.persephonee.core.exits.ExitPlacement#key()}): stage and head id. */
    public String key() {
        return stage + ":" + head;
    }
}
