package org.persephonee.core.bench;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.personalise.EvalPredictions;
import org.persephonee.core.personalise.PersonalisationConfig;
import org.persephonee.core.personalise.PersonalisationJob;
import org.persephonee.core.personalise.PersonalisationResult;
import org.persephonee.core.pipeline.PersonalisePipeline;
import org.persephonee.core.util.Vectors;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The rows of the gap to full fine-tuning (issue 13): exits with the last stages re-trained, exit ensembles. */
final class GapRows {
    private GapRows() { }

    /**
     * The "exits + re-trained last stage(s)" rows: the same run with the last {@code n} stages re-trained from
     * the cache under the re-fitted final head (exits on those stages left out), its final exit and operating
     * point, timed like exit-only ({@code repeats} runs, the median).
     *
     * @return the ratios against full fine-tuning, or null when it cannot run
     */
    static Map<String, Object> retrainRows(Backbone bb, PersonalDataset ds, PersonalisationConfig cfg, int n,
                                                   boolean quick, int repeats, String persona, String lab,
                                                   double fullCost, double fullAcc, List<Map<String, Object>> rows,
                                                   PrintStream err) throws Exception {
        int first = bb.stages().size() - n;
        PersonalisationConfig rc = cfg.toBuilder().setPlacements(cfg.placements().stream()
                .filter(p -> bb.stage(p.stage()).index() < first).toList()).optRetrainLast(n).build();
        String what = "exits + re-trained " + (n == 1 ? "last stage" : "last " + n + " stages");
        PersonalisePipeline.Outcome run;
        try {
            run = PersonalisePipeline.run(bb, ds, rc, new PersonalisePipeline.Options(1.0,
                    org.persephonee.core.eval.Confidence.MAX_SOFTMAX, false, null, quick ? 15 : 30),
                    PersonalisationJob.SILENT, () -> false);
        } catch (org.persephonee.core.personalise.PersonalisationException e) {
            err.println("  " + what + ": cannot personalise: " + e.getMessage());
            return null;
        }
        try (PersonalisePipeline.Outcome o = run) {
            PersonalisationResult r = o.result();
            double[] train = new double[repeats];
            double[] val = new double[repeats];
            train[0] = r.timing().training();
            val[0] = r.timing().validation();
            for (int k = 1; k < repeats; k++) {
                try (PersonalisationResult again = new PersonalisationJob(bb, ds, rc).run(PersonalisationJob.SILENT,
                        () -> false)) {
                    train[k] = again.timing().training();
                    val[k] = again.timing().validation();
                }
            }
            double cost = Vectors.lowerMedian(train);
            double valCost = Vectors.lowerMedian(val);
            boolean done = r.retrained() != null;
            String note = done ? "" : r.retrainChoice() == null ? " (not re-trained: no labels)"
                    : " (frozen stages kept: re-trained ones lost out of fold)";
            rows.add(SampleBench.row(persona, lab, what + ": final exit" + note,
                    r.finalAccuracy(), cost, o.choice().finalMs(), 1.0));
            Map<String, Object> op = SampleBench.row(persona, lab, what + ": operating point", o.choice().cascade().accuracy(),
                    cost, o.choice().cascade().meanMs(), o.choice().speedup());
            op.put("exits", org.persephonee.core.pipeline.PersonaliseReport.of(o, null).operatingPoint());
            rows.add(op);
            Map<String, Object> ens = ensembleRow(r, o, persona, lab, what + ": ensemble", cost);
            if (ens != null) {
                rows.add(ens);
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("stages", n);
            m.put("retrained", done);
            m.put("choice", r.retrainChoice());
            m.put("final_accuracy", r.finalAccuracy());
            m.put("operating_point_accuracy", o.choice().cascade().accuracy());
            m.put("speedup", o.choice().speedup());
            m.put("training_s", cost);
            m.put("training_runs_s", train);
            m.put("validation_s", valCost);
            m.put("training_cost_full_over_retrained", fullCost / cost);
            m.put("training_cost_full_over_retrained_with_validation", fullCost / (cost + valCost));
            m.put("final_minus_full_points", 100 * (r.finalAccuracy() - fullAcc));
            m.put("operating_point_minus_full_points", 100 * (o.choice().cascade().accuracy() - fullAcc));
            err.printf(Locale.ROOT, "  %s: final %.3f  operating point %.3f at %.2fx  training %.2f s (+%.2f s "
                            + "validation)  cost ratio %.1fx (%.1fx with validation)%n", what, r.finalAccuracy(),
                    o.choice().cascade().accuracy(), o.choice().speedup(), cost, valCost, fullCost / cost,
                    fullCost / (cost + valCost));
            return m;
        }
    }

    /**
     * The exit ensemble yardstick (issue 13's "exit ensembles" candidate): the mean probabilities of the exits
     * from one on, with or without the final exit, the start chosen on the out-of-fold predictions of the
     * training images (ties to the later start); its accuracy on the test images. Latency: the whole backbone
     * and every head it averages (no early exit).
     *
     * @return the row, or null without validation predictions
     */
    static Map<String, Object> ensembleRow(PersonalisationResult r, PersonalisePipeline.Outcome o,
                                                   String persona, String lab, String what, double trainS) {
        EvalPredictions val = r.validation();
        if (val == null) {
            return null;
        }
        EvalPredictions sel = val.forSelection();
        int n = r.heads().size();
        int bestJ = -1;
        boolean bestF = true;
        double bestVal = -1;
        for (int j = 0; j <= n; j++) {
            for (boolean withFinal : new boolean[] {false, true}) {
                if (j == n && !withFinal) {
                    continue;
                }
                double a = sel.accuracy(ensemble(sel, j, withFinal));
                if (a >= bestVal) {
                    bestVal = a;
                    bestJ = j;
                    bestF = withFinal;
                }
            }
        }
        EvalPredictions test = r.predictions();
        double acc = test.accuracy(ensemble(test, bestJ, bestF));
        double ms = o.profile().backboneMs() + (bestF ? o.choice().finalMs() - o.profile().backboneMs() : 0);
        for (int h = bestJ; h < n; h++) {
            ms += o.profile().headMs(r.heads().get(h));
        }
        String from = bestJ < n ? r.heads().get(bestJ).stage() + (bestF ? "..final" : "..last exit") : "final";
        Map<String, Object> row = SampleBench.row(persona, lab, what + " (" + from + ", chosen out of fold)", acc, trainS, ms,
                o.choice().finalMs() / ms);
        row.put("ensemble_validation_accuracy", bestVal);
        return row;
    }

    /** Mean probabilities of exits {@code from..} (and the final exit). */
    private static float[][] ensemble(EvalPredictions p, int from, boolean withFinal) {
        float[][] out = new float[p.size()][];
        for (int i = 0; i < p.size(); i++) {
            float[] a = new float[p.classes()];
            for (int h = from; h < p.exits().size(); h++) {
                for (int k = 0; k < a.length; k++) {
                    a[k] += p.exit(h)[i][k];
                }
            }
            if (withFinal) {
                for (int k = 0; k < a.length; k++) {
                    a[k] += p.finalExit()[i][k];
                }
            }
            out[i] = a;
        }
        return out;
    }
}
