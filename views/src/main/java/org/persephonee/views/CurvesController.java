package org.persephonee.views;

import org.persephonee.core.eval.Evaluation;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Curves and thresholds: the cascade the placed exits and their thresholds give on the shown evaluation (cheap:
 * stored predictions only), whether the curves belong to other exits than the ones placed now, and the global
 * threshold. Called on the thread that owns the model.
 */
public final class CurvesController {
    private final LabModel model;

    CurvesController(LabModel model) {
        this.model = model;
    }

    /** Sets every exit's threshold. */
    public void setGlobalThreshold(double t) {
        model.globalThreshold().set(t);
        for (ExitModel e : model.exits()) {
            e.thresholdProperty().set(t);
        }
    }

    /** Recomputes the current cascade from the exits' thresholds. */
    public void recompute() {
        Evaluation ev = model.evaluation().get();
        if (ev == null) {
            model.currentOutOfFold().set(null);
            model.current().set(null);
            model.curvesStale().set(false);
            return;
        }
        Set<String> placed = new HashSet<>();
        model.exits().forEach(e -> placed.add(e.key()));
        model.curvesStale().set(!placed.equals(new HashSet<>(ev.exitNames())));
        List<Integer> idx = new ArrayList<>();
        List<Double> th = new ArrayList<>();
        List<String> names = ev.exitNames();
        for (int j = 0; j < names.size(); j++) {
            for (ExitModel e : model.exits()) {
                if (e.key().equals(names.get(j)) && e.threshold() <= 1.0) {
                    idx.add(j);
                    th.add(e.threshold());
                }
            }
        }
        int[] exits = idx.stream().mapToInt(Integer::intValue).toArray();
        double[] thresholds = th.stream().mapToDouble(Double::doubleValue).toArray();
        // first: the marker and the metrics follow the current cascade and read this one with it
        org.persephonee.core.eval.Cascade oof = ev.validationLabelledCascade();
        // without test photos the curves are out of fold already: no second marker on the same predictions
        model.currentOutOfFold().set(oof == null || !oof.predictions().labelled() || model.scoredOutOfFold() ? null
                : oof.evaluate(exits, thresholds));
        model.current().set(ev.cascade().evaluate(exits, thresholds));
    }

    /** Shows no results (a new backbone is open). */
    void clear() {
        model.evaluation().set(null);
        model.scoredPhotosProperty().set(org.persephonee.core.personalise.PersonalisationResult.TEST_PHOTOS);
        model.currentOutOfFold().set(null);
        model.current().set(null);
        model.resultsFinal().set(false);
        model.liveStats().clear();
        // the side panel's notes on the last run go with its curves (another backbone was opened)
        model.refitChoice().set(null);
        model.labelSpaceGuessed().set(false);
        model.labelSpaceLeftOut().set(java.util.List.of());
    }
}
