package org.persephonee.core.personalise;

import org.persephonee.core.exits.ExitPlacement;

import java.util.LinkedHashMap;
import java.util.Map;

/** A config as JSON-ready key/values (snake_case keys, enums in lower case), for results and bundles. */
final class ConfigDescription {

    private ConfigDescription() { }

    static Map<String, Object> of(PersonalisationConfig c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("exits", c.placements().stream().map(ExitPlacement::toString).toList());
        m.put("labels", c.labels().toString());
        m.put("unlabelled_rule", c.unlabelledRule().name().toLowerCase(java.util.Locale.ROOT));
        m.put("pseudo_label_threshold", c.pseudoLabelThreshold());
        m.put("temperature", c.temperature());
        m.put("epochs", c.epochs());
        m.put("learning_rate", c.learningRate());
        m.put("weight_decay", c.weightDecay());
        m.put("batch_size", c.batchSize());
        m.put("refit_final", c.refitFinal());
        m.put("refit_checked", c.refitChecked());
        m.put("bn_mode", c.bnMode().name().toLowerCase(java.util.Locale.ROOT));
        m.put("seed", c.seed());
        m.put("cache_budget_bytes", c.cacheBudgetBytes());
        m.put("holdout_fraction", c.holdoutFraction());
        m.put("validation_folds", c.validationFolds());
        m.put("retrain_last", c.retrainLast());
        m.put("teacher", c.teacher().name().toLowerCase(java.util.Locale.ROOT));
        m.put("final_ensemble", c.finalEnsemble());
        m.put("fold_average", c.foldAverage());
        m.put("carry_folds", c.carryFolds());
        m.put("labels_chosen", c.labelsChosen());
        m.put("classes", c.classes());
        return m;
    }
}
