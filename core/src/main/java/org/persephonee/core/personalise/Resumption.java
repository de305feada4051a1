package org.persephonee.core.personalise;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.ExitPlacement;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.BooleanSupplier;

/**
 * A run carrying on from an earlier one ({@link ResumeState}) rather than starting over: it keeps the earlier
 * BatchNorm statistics (no decision, and the {@link FeatureMemo} knows the old photos), the earlier label space,
 * warm-starts every pooling + linear exit and the re-fitted final exit from the earlier weights, trains one round
 * (taught, where a photo is unlabelled, by the late ensemble of the heads it starts from), and replaces the
 * cross-fitting by predictions made before training: the old photos keep the held-out predictions the state
 * carries, new photos get those of the heads the run starts from, which never saw them.
 */
final class Resumption {
    private final ResumeState state;
    private final List<String> notes = new ArrayList<>();
    private boolean warm = true;
    /** Nothing new since the earlier run: its deployed heads are kept as they are, with no training. */
    private boolean keep;
    /** For each class of the run, its row among the earlier run's classes; null when the classes are the same. */
    private int[] keptRows;
    /** The earlier run's folds are carried on ({@link #carry}). */
    private boolean carrying;
    /** {@link #earlier}, once looked up. */
    private ResumeState.Photo[] earlier;

    private Resumption(ResumeState state) {
        this.state = state;
    }

    /** The resumption a config asks for, or null for a run from scratch. */
    static Resumption of(PersonalisationConfig config, Backbone backbone) throws PersonalisationException {
        ResumeState s = config.resume();
        if (s == null) {
            return null;
        }
        if (s.backboneSha256() != null && !s.backboneSha256().equalsIgnoreCase(backbone.parametersSha256())) {
            throw new PersonalisationException("cannot resume from " + s.from() + ": it was made with other backbone "
                    + "weights (SHA-256 " + s.backboneSha256() + ", this backbone " + backbone.parametersSha256() + ")");
        }
        if (config.retrainLast() > 0) {
            throw new PersonalisationException("cannot resume with re-trained stages (--retrain-last): run from "
                    + "scratch, or resume with --retrain-last 0");
        }
        return new Resumption(s);
    }

    /** Restores the earlier statistics (or keeps the shipped ones, as the earlier run did). */
    BnDecision batchNorm(Backbone backbone) {
        boolean adapted = state.bnStats() != null;
        if (adapted) {
            BnStats.restore(backbone, state.bnStats());
        }
        return new BnDecision(adapted, "resumed from " + state.from() + ": its " + (adapted ? "adapted" : "shipped")
                + " statistics kept", Double.NaN, Double.NaN, state.bnStats());
    }

    /**
     * The label space of the resumed run. Without labels, the earlier one (more photos do not re-open it). With
     * labels, the space a run from scratch would have, the labelled classes ({@code inferred}): when they are
     * among the earlier classes, the heads keep those classes' rows (a run that inferred night-owl's space without
     * labels had 7 classes; once the person labels photos, a run from scratch has the 5 labelled ones, and updates
     * that kept 7 fell 6-10 points behind it in the active-labelling bench); a labelled class the earlier run did
     * not have makes the heads start fresh.
     *
     * Declared classes count as labels here: a run that names the person's classes gets them, as from scratch.
     *
     * @param inferred the space a run from scratch would have, or null when it would have fewer than two classes
     * @param declared whether the run names the person's classes ({@link PersonalisationConfig#classes()})
     */
    PersonalLabelSpace labelSpace(PreparedData data, PersonalLabelSpace inferred, boolean declared) {
        PersonalLabelSpace before = state.labelSpace();
        if (inferred == null || (!declared && data.trainLabel.stream().allMatch(java.util.Objects::isNull))
                || inferred.names().equals(before.names())) {
            return before;
        }
        int[] rows = new int[inferred.size()];
        for (int k = 0; k < rows.length; k++) {
            rows[k] = before.indexOf(inferred.names().get(k));
            if (rows[k] < 0) {
                warm = false;
                notes.add("the class '" + inferred.names().get(k) + "' is new since " + state.from()
                        + ": the heads start fresh");
                return inferred;
            }
        }
        keptRows = rows;
        notes.add("the label space is the " + (declared ? "declared and " : "") + "labelled classes, "
                + inferred.names() + ", of the " + before.size()
                + " of " + state.from() + ": the heads keep those classes' rows");
        return inferred;
    }

    /** The rows of the classes kept ({@link #keptRows}) of a {@code classes x in} weight or a bias; as is if all. */
    private float[] rows(float[] w) {
        if (keptRows == null) {
            return w;
        }
        int in = w.length / state.labelSpace().size();
        float[] out = new float[keptRows.length * in];
        for (int k = 0; k < keptRows.length; k++) {
            System.arraycopy(w, keptRows[k] * in, out, k * in, in);
        }
        return out;
    }

    private float[][] rows(float[][] linear) {
        return linear == null ? null : new float[][] {rows(linear[0]), rows(linear[1])};
    }

    /** Probabilities over the earlier classes, over the kept ones (renormalised); as is if all are kept. */
    private float[] keptClasses(float[] p) {
        if (keptRows == null) {
            return p;
        }
        float[] out = rows(p);
        double sum = 0;
        for (float v : out) {
            sum += v;
        }
        for (int k = 0; k < out.length; k++) {
            out[k] = sum > 0 ? (float) (out[k] / sum) : 1f / out.length;
        }
        return out;
    }

    /**
     * Training settings other than the epochs changed since the earlier run (learning rate, teacher, seed, ...): the
     * update still starts from the earlier heads, which those settings trained, so a note says so and how to get a
     * run from scratch with the new ones (in the lab, a run at learning rate 5.0 and then an update at 0.03 carried the
     * broken heads on, while the record named 0.03 only).
     */
    void checkSettings(PersonalisationConfig config) {
        if (!warm || state.training() == null) {
            return;
        }
        String now = ResumeState.training(config);
        if (!now.equals(state.training())) {
            notes.add("the training settings changed since " + state.from().getFileName() + " ("
                    + changes(state.training(), now) + "): the heads carry on from the ones trained with the earlier "
                    + "settings; run from scratch (no --resume, or untick Update the last run) for heads trained "
                    + "with these alone");
        }
    }

    /** The settings that differ between two {@link ResumeState#training} strings: {@code "lr 0.05 → 0.02"}. */
    static String changes(String before, String now) {
        String[] a = before.split(", ");
        String[] b = now.split(", ");
        List<String> out = new java.util.ArrayList<>();
        for (int i = 0; i < Math.min(a.length, b.length); i++) {
            if (!a[i].equals(b[i])) {
                int cut = Math.max(0, b[i].lastIndexOf(' '));
                String name = b[i].substring(0, cut);
                out.add(a[i].startsWith(name + " ") ? name + " " + a[i].substring(cut + 1) + " → "
                        + b[i].substring(cut + 1) : a[i] + " → " + b[i]);
            }
        }
        return out.isEmpty() ? before + " → " + now : String.join(", ", out);
    }

    /**
     * A photo the earlier run had that has another label now (a label reviewed, changed or removed) makes the heads
     * start fresh on the cache, cross-fitted, as a run from scratch would train them: the held-out predictions kept
     * for that photo came from heads that never had its label, so an update would choose on stale figures (the
     * active-labelling bench, night-owl's lab order as updates: 70.3 % after 20 reviewed labels against 87.8 % from
     * scratch, the final exit trained 3 epochs from the run before). The backbone still runs on new photos only.
     */
    void checkLabels(PreparedData data) {
        if (!warm || !state.labelsKept()) {
            return;
        }
        int changed = 0;
        for (int i = 0; i < data.trainSize(); i++) {
            ResumeState.Photo p = earlier(data)[i];
            if (p != null && !java.util.Objects.equals(p.label(), data.trainLabel.get(i))) {
                changed++;
            }
        }
        if (changed > 0) {
            warm = false;
            keptRows = null;
            notes.add(changed + " photo(s) of " + state.from().getFileName() + " have another label now: the heads "
                    + "start fresh on the cache (cross-fitted, " + state.freshEpochs() + " epochs)");
        }
    }

    /** The epochs heads that start fresh train for (the first run's of this line of runs). */
    int freshEpochs() { return state.freshEpochs(); }

    /**
     * Decides whether anything is new since the earlier run: the same training photos (by decoded pixels), each
     * with the label that run used, the same exits and the same training settings. When nothing is, training
     * more could only move converged heads (an update with no new photo moved tilted-phone's final exit from
     * 72.5 to 66.9 %), so the run keeps the earlier run's deployed heads and only chooses again.
     *
     * @param refit whether this run re-fits the final exit
     */
    void checkForNews(PreparedData data, List<ExitPlacement> placements, boolean refit, PersonalisationConfig config) {
        if (!warm || keptRows != null || !state.labelsKept() || state.training() == null
                || !state.training().equals(ResumeState.training(config))
                || !state.exitKeys().equals(placements.stream().map(ExitPlacement::key).toList())
                || state.photoCount() != data.trainSize()
                || refit != (state.finalDeployedWeights() != null)) {
            return;
        }
        for (String k : state.exitKeys()) {
            if (state.deployedWeights(k) == null) {
                return;
            }
        }
        for (int i = 0; i < data.trainSize(); i++) {
            ResumeState.Photo p = earlier(data)[i];
            if (p == null || !java.util.Objects.equals(p.label(), data.trainLabel.get(i))) {
                return;
            }
        }
        keep = true;
        notes.add("nothing new since " + state.from() + " (the same photos, labels, exits and settings): its heads "
                + "are kept as they were, with no training; the operating point is chosen again");
    }

    /** Gives every exit the earlier run had its weights back, and tells the trainer to start from them. */
    void warmStart(List<ExitHead> heads, ExitTrainer trainer) {
        if (!warm) {
            return;
        }
        int n = 0;
        for (ExitHead h : heads) {
            if (trainer.startFrom(h, rows(keep || carrying ? state.deployedWeights(h.key())
                    : state.exitWeights(h.key())))) {
                n++;
            }
        }
        if (n < heads.size()) {
            notes.add((heads.size() - n) + " of " + heads.size() + " exit(s) start fresh (not in " + state.from()
                    + ", or not pooling + linear heads)");
        }
    }

    /** Gives the re-fitted final exit its earlier weights when it had some; true when it did. */
    boolean warmStartFinal(ExitHead head, ExitTrainer trainer) {
        return warm && trainer.startFrom(head, rows(keep || carrying ? state.finalDeployedWeights()
                : state.finalWeights()));
    }

    /**
     * The held-out predictions of the training photos: the state's for photos it knows, and for new ones those
     * of the heads as they are now (before training), with the final exit's {@code finalBefore} rows.
     *
     * @return null when the heads start fresh (there is nothing held out to choose on)
     */
    EvalPredictions validation(PreparedData data, PersonalLabelSpace space, List<ExitHead> heads,
                               float[][] finalBefore, ExitTrainer trainer, FeatureCache cache,
                               BooleanSupplier cancelled) {
        if (!warm || !state.exitKeys().equals(heads.stream().map(ExitHead::key).toList())) {
            notes.add("no held-out predictions to choose on (other exits than " + state.from() + ")");
            return null;
        }
        int n = data.trainSize();
        List<float[][]> now = new ArrayList<>();
        for (ExitHead h : heads) {
            now.add(HeadOutputs.probabilities(h, trainer.input(h, cache), 0, n, cancelled));
        }
        List<float[][]> exits = new ArrayList<>();
        for (int e = 0; e < heads.size(); e++) {
            exits.add(new float[n][]);
        }
        float[][] fin = new float[n][];
        int[] truth = new int[n];
        int known = 0;
        for (int i = 0; i < n; i++) {
            ResumeState.Photo p = earlier(data)[i];
            boolean old = p != null && p.exits().size() == heads.size()
                    && p.finalExit().length == state.labelSpace().size();
            known += old ? 1 : 0;
            for (int e = 0; e < heads.size(); e++) {
                exits.get(e)[i] = old ? keptClasses(p.exits().get(e)) : now.get(e)[i];
            }
            fin[i] = old ? keptClasses(p.finalExit()) : finalBefore[i];
            String l = data.trainLabel.get(i);
            truth[i] = l == null ? -1 : space.indexOf(l) < 0 ? -2 : space.indexOf(l);
        }
        notes.add(String.format(Locale.ROOT, "held-out predictions: %d photo(s) from %s, %d new ones predicted by "
                + "the heads the run started from", known, state.from().getFileName(), n - known));
        return new EvalPredictions(heads.stream().map(ExitHead::stage).toList(), exits, fin, truth, space.size());
    }

    /**
     * Each training photo as the earlier run kept it (null for a new photo), looked up once: a photo is known by the
     * hash of its decoded pixels.
     */
    private ResumeState.Photo[] earlier(PreparedData data) {
        if (earlier == null) {
            earlier = new ResumeState.Photo[data.trainSize()];
            for (int i = 0; i < earlier.length; i++) {
                earlier[i] = state.photo(FeatureMemo.imageKey(data.trainX.get(i)));
            }
        }
        return earlier;
    }

    /** True when the exits start from the earlier weights. */
    boolean warm() { return warm; }

    /** True when nothing is new ({@link #checkForNews}): the earlier deployed heads are kept, untrained. */
    boolean keep() { return keep; }

    /**
     * True when the run's own heads are the earlier deployed ones, untrained: nothing is new, or the folds are
     * carried on ({@link #carry}), whose mean then replaces them.
     */
    boolean keepsHeads() { return keep || carrying; }

    /**
     * The earlier run's cross-fitted folds to carry on (its state keeps every fold's weights for every exit; there are
     * enough photos to cross-fit; a re-fitted final exit's folds start from theirs where the earlier run re-fitted it,
     * from its re-fit check's where it kept the backbone's classifier, fresh where neither was fitted), else null: the
     * run then updates
     * the deployed heads and chooses on kept held-out predictions. Carrying the folds, the update deploys the folds'
     * mean and chooses on predictions every photo got from heads that never trained on it, as a run from scratch.
     */
    CrossFit.Carry carry(PreparedData data, PersonalisationConfig config, List<ExitPlacement> ordered) {
        CrossFit.Carry c = carriedFolds(data, config, ordered);
        if (c == null) {
            return null;
        }
        int known = (int) java.util.Arrays.stream(c.fold()).filter(f -> f >= 0).count();
        carrying = true;
        notes.add(String.format(Locale.ROOT, "the %d folds of %s carried on: %d photo(s) keep their fold, %d new "
                + "one(s) dealt to the folds; the run deploys the folds' mean", config.validationFolds(),
                state.from().getFileName(), known, c.fold().length - known));
        return c;
    }

    /** Why the earlier run re-fitted or kept the final exit (its own check's figures), or null (not kept). */
    String earlierRefitChoice() {
        return state.refitChoice();
    }

    /**
     * The earlier run's choice of the final classifier when this run's labelled photos are the earlier run's, each with
     * the label it had (the out-of-fold check reads nothing else): true re-fitted, false kept; null when the check
     * must run again (other labelled photos, no labels kept, or heads that start fresh).
     */
    Boolean earlierRefit(PreparedData data) {
        if (!warm || !state.labelsKept()) {
            return null;
        }
        int labelled = 0;
        for (int i = 0; i < data.trainSize(); i++) {
            String l = data.trainLabel.get(i);
            if (l == null) {
                continue;
            }
            labelled++;
            ResumeState.Photo p = earlier(data)[i];
            if (p == null || !l.equals(p.label())) {
                return null;
            }
        }
        return labelled > 0 && labelled == state.labelledCount() ? state.finalDeployedWeights() != null : null;
    }

    /**
     * The folds {@link #carry} would carry on, without deciding anything: what the out-of-fold check of the re-fit
     * ({@link RefitDecision}) starts from, so its heads are the cross-fitting's (null where nothing would be carried).
     */
    CrossFit.Carry carriedFolds(PreparedData data, PersonalisationConfig config, List<ExitPlacement> ordered) {
        int k = config.validationFolds();
        if (!warm || keep || !config.foldAverage() || !config.carryFolds() || k < 2 || state.foldCount() != k
                || data.trainSize() < 4 * k) {
            return null;
        }
        for (int f = 0; f < k; f++) {
            for (ExitPlacement p : ordered) {
                if (state.foldWeights(p.key(), f) == null) {
                    return null;
                }
            }
        }
        int[] fold = new int[data.trainSize()];
        for (int i = 0; i < fold.length; i++) {
            ResumeState.Photo p = earlier(data)[i];
            fold[i] = p == null || p.fold() == null ? -1 : p.fold();
        }
        return new CrossFit.Carry(fold, (key, f) -> rows(state.foldWeights(key, f)));
    }

    /** The earlier run's folds, passed on by a run that kept its heads ({@link #keep}), or null when it had none. */
    PersonalisationResult.Folds folds(PreparedData data) {
        int k = state.foldCount();
        if (k == 0) {
            return null;
        }
        int[] fold = new int[data.trainSize()];
        for (int i = 0; i < fold.length; i++) {
            ResumeState.Photo p = earlier(data)[i];
            if (p == null || p.fold() == null) {
                return null;
            }
            fold[i] = p.fold();
        }
        java.util.Map<String, List<float[][]>> w = new java.util.HashMap<>();
        List<String> keys = new ArrayList<>(state.exitKeys());
        keys.add(PersonalisationResult.FINAL_KEY);
        for (String key : keys) {
            List<float[][]> l = new ArrayList<>();
            for (int f = 0; f < k && state.foldWeights(key, f) != null; f++) {
                l.add(state.foldWeights(key, f));
            }
            if (l.size() == k) {
                w.put(key, l);
            }
        }
        return new PersonalisationResult.Folds(fold, w);
    }

    /**
     * The weights the earlier run's heads had as trained on all its photos, by exit key and
     * {@link PersonalisationResult#FINAL_KEY}: a kept run passes them on, so the next update carries on from them.
     */
    java.util.Map<String, float[][]> trainedOnAll(List<ExitHead> heads) {
        java.util.Map<String, float[][]> m = new java.util.HashMap<>();
        for (ExitHead h : heads) {
            float[][] w = state.exitWeights(h.key());
            if (w != null) {
                m.put(h.key(), w);
            }
        }
        float[][] f = state.finalWeights();
        if (f != null) {
            m.put(PersonalisationResult.FINAL_KEY, f);
        }
        return m;
    }

    /** What the resumption did and left out, in sentences. */
    List<String> notes() { return List.copyOf(notes); }
}
