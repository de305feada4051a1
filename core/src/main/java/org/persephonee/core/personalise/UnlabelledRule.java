package org.persephonee.core.personalise;

/** How unlabelled images are used, with the final exit as teacher. */
public enum UnlabelledRule {
    /** Hard pseudo-labels where the teacher's confidence passes the threshold; other images unused. */
    PSEUDO,
    /** Distillation against the teacher's softened output (temperature) for every unlabelled image. */
    DISTILL,
    /** Hard pseudo-labels above the threshold, distillation below it. */
    BOTH,
    /** Unlabelled images are not used. */
    IGNORE
}
