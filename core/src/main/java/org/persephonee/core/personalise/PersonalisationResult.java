package org.persephonee.core.personalise;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.exits.ExitHead;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a personalisation run produced: trained exit heads (owning native memory: close the result),
 * evaluation predictions, the label space, the BatchNorm decision, timings and the config that made it.
 */
public final class PersonalisationResult implements AutoCloseable {
    /** Stage label used for the personalised final exit in reports. */
    public static final String FINAL = "final";

    /**
     * Wall times of a run, in seconds. The training cost is {@code batchNorm + featureCache + headTraining};
     * {@code evaluation} is everything done on the held-out images: the generic backbone's pass, their
     * feature cache and the heads' predictions on them (every reported epoch).
     *
     * @param decode image decoding
     * @param batchNorm the BatchNorm decision (and adaptation)
     * @param featureCache the frozen-backbone pass over the training images
     * @param headTraining training on the cache: the re-fitted final exit, its teaching targets, the exits
     * @param total everything
     * @param validation cross-fitting the heads on folds of the training images, for choices made off the
     *                   evaluation images (counted apart from training: it is the cost of an honest choice)
     */
    public record Timing(double decode, double batchNorm, double featureCache, double headTraining, double evaluation,
                         double total, double validation) {

        /** Seconds spent on training: BatchNorm decision, training-image cache, heads. */
        public double training() {
            return batchNorm + featureCache + headTraining;
        }
    }

    private final String backboneId;
    private final String backboneSha256;
    private final PersonalisationConfig config;
    private final PersonalLabelSpace labelSpace;
    private final PreparedData data;
    private final Targets targets;
    private final List<ExitHead> heads;
    private final ExitHead finalHead;
    private final RetrainedStages retrained;
    private final String retrainChoice;
    private final FinalEnsemble.Choice ensemble;
    private final float[][] validationFinalAlone;
    private final String refitChoice;

    /**
     * How the final exit decides.
     *
     * @param ensemble whether it is averaged with some exits
     * @param validationAlone the final exit's own out-of-fold probabilities (before any averaging), or null
     * @param refitChoice whether the classifier was re-fitted on the labels or kept, and why ({@link RefitDecision}),
     *                    or null when that was not checked
     */
    record Final(FinalEnsemble.Choice ensemble, float[][] validationAlone, String refitChoice) { }

    /**
     * Where the deployed heads come from ({@link FoldAverage}), and the weights the averaged ones had after training on
     * all the training images, by exit key ({@link #FINAL_KEY} for the re-fitted final exit): a later run carries on
     * training from those ({@link ResumeState}), not from the folds' mean.
     */
    record Deployed(String from, Map<String, float[][]> trainedOnAll, Folds folds) { }

    /**
     * The cross-fitted folds a run deployed the mean of: each training photo's fold and every fold's weights by exit
     * key ({@link #FINAL_KEY} for the re-fitted final exit), for a later update to carry on ({@link ResumeState}).
     */
    record Folds(int[] assignment, Map<String, List<float[][]>> weights) { }

    /** {@link Deployed#trainedOnAll()}'s key of the re-fitted final exit (exit keys all hold a colon). */
    static final String FINAL_KEY = "final";
    private final String headsFrom;
    private final Map<String, float[][]> trainedOnAll;
    private final Folds folds;
    private final EvalPredictions predictions;
    private final EvalPredictions validation;
    private final double genericAccuracy;
    private final BnDecision bn;
    private final Timing timing;
    private final CacheUse cache;
    private final Resumed resumed;
    private final List<PersonalLabelSpace.LeftOut> leftOut;
    private final String date = java.time.Instant.now().toString();

    PersonalisationResult(Backbone bb, PersonalisationConfig config, PersonalLabelSpace labelSpace, PreparedData data,
                          Targets targets, List<ExitHead> heads, ExitHead finalHead, RetrainedStages retrained,
                          String retrainChoice, Final fin, Deployed deployed, EvalPredictions predictions,
                          EvalPredictions validation, double genericAccuracy, BnDecision bn, Timing timing,
                          CacheUse cache, Resumed resumed, List<PersonalLabelSpace.LeftOut> leftOut) {
        this.backboneId = bb.id();
        this.backboneSha256 = bb.parametersSha256();
        this.config = config;
        this.labelSpace = labelSpace;
        this.data = data;
        this.targets = targets;
        this.heads = List.copyOf(heads);
        this.finalHead = finalHead;
        this.retrained = retrained;
        this.retrainChoice = retrainChoice;
        this.ensemble = fin.ensemble();
        this.validationFinalAlone = fin.validationAlone();
        this.refitChoice = fin.refitChoice();
        this.headsFrom = deployed.from();
        this.trainedOnAll = Map.copyOf(deployed.trainedOnAll());
        this.folds = deployed.folds();
        this.predictions = predictions;
        this.validation = validation;
        this.genericAccuracy = genericAccuracy;
        this.bn = bn;
        this.timing = timing;
        this.cache = cache;
        this.resumed = resumed;
        this.leftOut = List.copyOf(leftOut);
    }

    public String backboneId() { return backboneId; }

    public String backboneSha256() { return backboneSha256; }

    public PersonalisationConfig config() { return config; }

    public PersonalLabelSpace labelSpace() { return labelSpace; }

    public PreparedData data() { return data; }

    public Targets targets() { return targets; }

    /** Trained exit heads in placement order. */
    public List<ExitHead> heads() { return heads; }

    /** The re-fitted final classifier, or null when the final exit is the backbone's classifier. */
    public ExitHead finalHead() { return finalHead; }

    /**
     * The re-trained copy of the backbone's last stage(s) under {@link #finalHead()}, or null when the final
     * exit reads the frozen stages. When present, the personalised final exit is this copy and the head.
     */
    public RetrainedStages retrained() { return retrained; }

    /**
     * Whether re-trained stages were kept as the final exit and on what evidence (their out-of-fold accuracy
     * against the frozen stages'), or null when none were trained or there was no validation.
     */
    public String retrainChoice() { return retrainChoice; }

    /**
     * Whether the final classifier was re-fitted on the person's labels or kept as the backbone's, and why (decided
     * out of fold on the labelled photos), or null when that was not checked (no labels, or not asked).
     */
    public String refitChoice() { return refitChoice; }

    public EvalPredictions predictions() { return predictions; }

    /**
     * Where the deployed heads' weights come from: the mean of the cross-fitted folds' heads ({@link FoldAverage}),
     * or training once more on all the training images (no cross-fitting, a resumed run, or turned off).
     */
    public String headsFrom() { return headsFrom; }

    /**
     * The weights a head had after training on all the training images, where the deployed head carries the folds'
     * mean instead; null for a head deployed as trained.
     *
     * @param key an exit's key, or {@link #FINAL_KEY}
     */
    float[][] trainedOnAll(String key) { return trainedOnAll.get(key); }

    /** The folds the deployed heads are the mean of, or null (no cross-fitting, or not averaged). */
    Folds folds() { return folds; }

    /**
     * Whether the final exit is averaged with some exits ({@link FinalEnsemble}): its members index {@link #heads()};
     * {@link #predictions()} and {@link #validation()} hold the average as the final exit's probabilities.
     */
    public FinalEnsemble.Choice finalEnsemble() { return ensemble; }

    /**
     * The final exit's own out-of-fold probabilities on the training images, before any averaging with exits (what a
     * later run carries on from: it decides on its own average), or null without validation.
     */
    public float[][] validationFinalAlone() { return validationFinalAlone; }

    /** The stages of the exits the final exit is averaged with (empty: the final exit alone). */
    public List<String> finalEnsembleStages() {
        return java.util.Arrays.stream(ensemble.members()).mapToObj(j -> heads.get(j).stage()).toList();
    }

    /**
     * Out-of-fold predictions on the training images (every image predicted by heads that did not train on
     * it), in the same exit order as {@link #predictions()}; what choices are made on. Null when validation is
     * off or there are too few training images.
     */
    public EvalPredictions validation() { return validation; }

    /** Accuracy of the unmodified backbone over all its classes on the evaluation images (NaN if unlabelled). */
    public double genericAccuracy() { return genericAccuracy; }

    /** The most accurate single head on the evaluation images: an exit index, or -1 for the final exit (ties). */
    public int bestHead() {
        int best = -1;
        double acc = finalAccuracy();
        for (int j = 0; j < heads.size(); j++) {
            if (exitAccuracy(j) > acc + 1e-12) {
                acc = exitAccuracy(j);
                best = j;
            }
        }
        return best;
    }

    /** Accuracy of the personalised final exit. */
    public double finalAccuracy() { return predictions.accuracy(predictions.finalExit()); }

    /** Accuracy of exit i alone (every image leaves there). */
    public double exitAccuracy(int i) { return predictions.accuracy(predictions.exit(i)); }

    public BnDecision batchNorm() { return bn; }

    public Timing timing() { return timing; }

    public boolean cacheSpilled() { return cache.spilledBytes() > 0; }

    public long cacheHeapBytes() { return cache.heapBytes(); }

    public long cacheSpilledBytes() { return cache.spilledBytes(); }

    /** What this run carried on from and how, or null for a run from scratch. */
    public Resumed resumed() { return resumed; }

    /**
     * A run that carried on from an earlier one.
     *
     * @param from the bundle it resumed from
     * @param warm whether the exits started from the earlier weights
     * @param trained false when nothing was new since the earlier run: its deployed heads were kept, untrained
     * @param freshEpochs the epochs heads that start fresh train for in this line of runs (the first run's)
     * @param notes what the resumption did and left out
     */
    public record Resumed(String from, boolean warm, boolean trained, int freshEpochs, List<String> notes) {
        public Resumed {
            notes = List.copyOf(notes);
        }
    }

    /** How the frozen pass was paid: its memory, and how many photos the backbone ran on (the rest were kept). */
    public CacheUse cacheUse() { return cache; }

    /**
     * The feature cache of a run.
     *
     * @param photos training and evaluation photos cached
     * @param computed those the backbone ran on; the others came from the {@link FeatureMemo}
     * @param memoNotes what went wrong with the memo (never fatal), empty when nothing did
     */
    public record CacheUse(long heapBytes, long spilledBytes, int photos, int computed, List<String> memoNotes) {
        public CacheUse {
            memoNotes = List.copyOf(memoNotes);
        }
    }

    public String date() { return date; }

    /**
     * True when the evaluation images carry labels. Without any, every "accuracy" of this result is agreement
     * with the personalised final exit (the teacher), which therefore agrees with itself 100 %, and the generic
     * accuracy is unknown.
     */
    public boolean scoredOnLabels() { return predictions.labelled(); }

    /**
     * True when the person has no test images: every image trained and the figures are the training images'
     * out-of-fold predictions, the same ones the operating point was chosen on (the validation estimate).
     */
    public boolean scoredOutOfFold() { return data.evalIsOutOfFold(); }

    /** {@link #scoredPhotos()} of a run scored on the person's test photos. */
    public static final String TEST_PHOTOS = "test photos";
    /** {@link #scoredPhotos()} of a run scored on a hold-out of the training photos (no cross-fitting). */
    public static final String HELD_OUT_PHOTOS = "held-out photos";
    /** {@link #scoredPhotos()} of a run with no test photos, scored out of fold. */
    public static final String OUT_OF_FOLD_PHOTOS = "training photos, out of fold";

    /** What the scored images are, for a person: {@link #TEST_PHOTOS}, {@link #HELD_OUT_PHOTOS} or {@link #OUT_OF_FOLD_PHOTOS}. */
    public String scoredPhotos() {
        return data.evalIsOutOfFold() ? OUT_OF_FOLD_PHOTOS : data.evalIsHoldout() ? HELD_OUT_PHOTOS : TEST_PHOTOS;
    }

    /**
     * What the figures were computed on, for reports and bundles: e.g. "400 test images", "21 labelled of 120
     * held-out training images", or "120 held-out training images, no labels: agreement with the final exit".
     */
    public String evaluatedOn() {
        if (data.evalIsOutOfFold()) {
            int all = predictions.size();
            if (!predictions.labelled()) {
                return all + " training images out of fold (no test images), no labels: agreement with the "
                        + "personalised final exit (the teacher), not accuracy";
            }
            return predictions.scoredCount() + " labelled of " + all + " training images, out of fold (no test "
                    + "images: every image trained, and the operating point was chosen on these same predictions)";
        }
        int all = data.evalSize();
        String kind = data.evalIsHoldout() ? "held-out training images" : "test images";
        if (!predictions.labelled()) {
            return all + " " + kind + ", no labels: agreement with the personalised final exit (the teacher), "
                    + "not accuracy";
        }
        int scored = predictions.scoredCount();
        return scored == all ? all + " " + kind : scored + " labelled of " + all + " " + kind
                + " (accuracy on the labelled ones, latency and exit shares on all)";
    }

    /**
     * True when the person's classes were guessed from the backbone's confident predictions: no label used and none
     * named ({@link PersonalisationConfig#classes()}). A capture shift misleads the guess (night-owl: 7-8 classes
     * for its 5).
     */
    public boolean labelSpaceGuessed() {
        return config.classes().isEmpty() && targets.labelled() == 0;
    }

    /**
     * With a guessed label space, the classes it left out although the teacher named them first for at least a tenth of
     * the unlabelled photos (it was seldom sure of them), as {@link PersonalLabelSpace.LeftOut#describe()}; empty
     * otherwise.
     */
    public List<String> labelSpaceLeftOut() {
        return leftOut.stream().map(PersonalLabelSpace.LeftOut::describe).toList();
    }

    /** Counts and label regime, for provenance. */
    public Map<String, Object> provenance() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("train_images", data.trainSize());
        m.put("labels_given", data.labelsGiven());
        m.put("labels_used", targets.labelled());
        m.put("pseudo_labelled", targets.pseudoLabelled());
        m.put("distilled", targets.distilled());
        m.put("eval_images", predictions.size());
        m.put("eval_scored_images", predictions.scoredCount());
        m.put("eval_is_holdout", data.evalIsHoldout());
        m.put("eval_out_of_fold", data.evalIsOutOfFold());
        m.put("label_regime", config.labels().toString());
        m.put("label_space_from", !config.classes().isEmpty()
                ? (targets.labelled() > 0 ? "declared classes and the labelled ones" : "declared classes")
                : targets.labelled() > 0 ? "the labelled classes"
                : "the backbone's confident guesses, without labels");
        m.put("label_space_guessed", labelSpaceGuessed());
        if (!leftOut.isEmpty()) {
            m.put("label_space_left_out", labelSpaceLeftOut());
        }
        m.put("seed", config.seed());
        m.put("batchnorm", bn.describe());
        m.put("date", date);
        m.put("config", config.describe());
        if (refitChoice != null) {
            m.put("refit_choice", refitChoice);
        }
        if (config.retrainLast() > 0) {
            m.put("retrained_stages", retrained == null ? List.of() : retrained.stages());
            m.put("retrain_choice", retrainChoice);
        }
        m.put("final_ensemble", finalEnsembleStages());
        m.put("final_ensemble_choice", ensemble.reason());
        m.put("heads_from", headsFrom);
        if (resumed != null) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("from", resumed.from());
            r.put("warm_start", resumed.warm());
            r.put("trained", resumed.trained());
            r.put("notes", resumed.notes());
            m.put("resumed", r);
        }
        return m;
    }

    @Override
    public void close() {
        heads.forEach(ExitHead::close);
        if (finalHead != null) {
            finalHead.close();
        }
        if (retrained != null) {
            retrained.close();
        }
    }
}
