package org.persephonee.core.personalise;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a personalisation did with the backbone's BatchNorm statistics, and why.
 *
 * @param adapted whether the statistics were re-estimated on the person's images
 * @param reason one sentence: the mode, and for auto the criterion with both values
 * @param criterionShipped the criterion with the shipped statistics (NaN when none was measured)
 * @param criterionAdapted the criterion with adapted statistics (NaN when none was measured)
 * @param stats the adapted statistics, null when they were not adopted
 */
public record BnDecision(boolean adapted, String reason, double criterionShipped, double criterionAdapted,
                         Map<String, float[]> stats) {
    /** For a run's provenance: adapted and why. */
    Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("adapted", adapted);
        m.put("reason", reason);
        return m;
    }
}
