package org.persephonee.core.personalise;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.Stage;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.engine.Engines;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * PersEPhonEE exit personalisation (Leontiadis et al., HotMobile 2021): the backbone stays frozen; one
 * inference-mode pass caches the features at every placed exit and the final logits; then only the exit
 * heads train, on the cache, with cross-entropy on the person's labels and, for unlabelled images, the
 * final exit as teacher (hard pseudo-labels above a confidence threshold and/or distillation against its
 * softened output). Optionally the final classifier is re-fitted on the personal label space, and the
 * backbone's BatchNorm statistics are re-estimated on the person's images (AdaBN).
 *
 * <p>The job only runs the phases in order, each a class of its own: {@link PreparedData} (decode and split),
 * {@link BatchNormPhase} (keep or adapt the statistics), {@link FrozenPass} (the one frozen pass, through the {@link FeatureMemo}),
 * {@link PersonalLabelSpace} (the person's classes), {@link FinalExitPhase} (re-fit, re-trained stages),
 * {@link ExitRounds} (the exits' training, live epochs) and {@link CrossFit} (out-of-fold predictions that
 * choose the operating point); the result then owns the trained heads.
 *
 * <p>Runs on the calling thread; progress goes to a {@link Listener}; cancellation is polled between
 * batches and surfaces as {@link CancellationException}, leaving the backbone as it was.
 */
public final class PersonalisationJob {

    /** Phases of a run. */
    public enum Phase {
        DECODE("Decoding images"), BATCHNORM("Checking BatchNorm statistics"), CACHE("Caching features"),
        TRAIN("Training exits"), VALIDATE("Validating"), EVALUATE("Evaluating");

        private final String display;

        Phase(String display) { this.display = display; }

        public String display() { return display; }
    }

    /** Progress of a run; all methods are called on the job's thread. */
    public interface Listener {
        default void onPhase(Phase phase, String message) { }

        /** Fraction of the phase done and the phase's estimated remaining seconds. */
        default void onProgress(Phase phase, double fraction, double etaSeconds) { }

        /**
         * After each training epoch.
         *
         * @param stats per exit (and the re-fitted final, last)
         * @param snapshot current evaluation predictions, for live curves
         */
        default void onEpoch(int epoch, int epochs, List<ExitStats> stats, EvalPredictions snapshot) { }
    }


    /**
     * The re-fitted final exit: pooling the last stage to a 2x2 grid instead of one cell keeps where its
     * features fire, which global pooling loses and a strong capture shift makes matter (night-owl, 100
     * labels: 72% with global pooling, 79% with the grid).
     */
    static final HeadSpec FINAL_HEAD = HeadSpec.grid(2);

    /** What an update adds to the earlier run's reason for re-fitting or keeping the final exit, which it takes over. */
    static final String SAME_LABELS = "; decided by the run this one updates, on the same labelled photos";

    /**
     * An update's reason for the final exit when its labelled photos are the earlier run's: the earlier run's reason
     * (with its figures), once, or a plain one when the earlier state did not keep it.
     */
    static String inheritedRefitChoice(boolean refit, String earlier) {
        String start = refit ? "re-fitted" : "the backbone's classifier kept";
        String base = earlier != null && earlier.endsWith(SAME_LABELS)
                ? earlier.substring(0, earlier.length() - SAME_LABELS.length()) : earlier;
        // the earlier run's own reason ("re-fitted: ...", "re-fitted (not validated: ...)", ...), or, from a state
        // that kept none, a plain one that names no check
        String plain = start + ": as by the run this one updates, on the same labelled photos";
        return base != null && !base.equals(plain) && (base.startsWith(start + ":") || base.startsWith(start + " ("))
                ? base + SAME_LABELS : plain;
    }


    /** A listener that ignores everything. */
    public static final Listener SILENT = new Listener() { };

    private final Backbone backbone;
    private final PersonalDataset dataset;
    /** The run's config; a resumed run whose heads start fresh trains them with the epochs of the first run. */
    private PersonalisationConfig config;
    /** Trains the exits and the re-fitted final exit on the cache. */
    private ExitTrainer trainer;

    /**
     * Creates a job.
     *
     * @param backbone non-null, loaded; its weights are never changed (BatchNorm statistics are restored)
     * @param dataset non-null personal data
     * @param config non-null
     */
    public PersonalisationJob(Backbone backbone, PersonalDataset dataset, PersonalisationConfig config) {
        this.backbone = backbone;
        this.dataset = dataset;
        this.config = config;
        this.trainer = new ExitTrainer(config, backbone);
    }

    /**
     * Runs the whole job.
     *
     * @throws PersonalisationException when the data or config cannot work (message says why)
     * @throws CancellationException when cancelled
     */
    public PersonalisationResult run(Listener listener, BooleanSupplier cancelled)
            throws PersonalisationException, IOException {
        Engines.pytorch();
        // the engine uses the cores the machine has free: one thread when other programs keep the cores busy
        // (OpenMP threads that wait for a descheduled peer made runs 4-6x slower)
        int threads = Engines.setThreads(Engines.threadsForBatchWork());
        PersonalisationConfig given = config;
        ExitTrainer givenTrainer = trainer;
        try {
            return runOnThreads(listener, cancelled);
        } finally {
            awaitDecodeSave();
            Engines.setThreads(threads);
            config = given;
            trainer = givenTrainer;
        }
    }

    private PersonalisationResult runOnThreads(Listener listener, BooleanSupplier cancelled)
            throws PersonalisationException, IOException {
        for (ExitPlacement p : config.placements()) {
            if (backbone.stage(p.stage()) == null) {
                throw new PersonalisationException("backbone " + backbone.id() + " has no stage '" + p.stage()
                        + "' (stages: " + backbone.stages().stream().map(Stage::name).toList() + ")");
            }
        }
        Engines.pytorch();
        long tStart = System.nanoTime();
        listener.onPhase(Phase.DECODE, "Decoding " + dataset.size() + " images");
        // with a feature memo, photo files decoded by an earlier run are not decoded again
        DecodeCache decoded = config.featureMemo() == null ? null
                : DecodeCache.open(config.featureMemo(), backbone.input());
        // with cross-fitting, a person with no test images loses none of their photos to a hold-out: the figures
        // are then the out-of-fold predictions of all of them (issue 13: the validation estimate is what is reported)
        // (too few photos to cross-fit: the seeded hold-out, as without cross-fitting)
        long training = dataset.images().stream()
                .filter(i -> i.split() != org.persephonee.core.data.PersonalImage.Split.TEST).count();
        boolean outOfFold = scoresOutOfFold(training, config.validationFolds());
        PreparedData data = PreparedData.prepare(dataset, backbone.input(), config.labels(),
                outOfFold ? 0 : config.holdoutFraction(), config.seed(), decoded, listener, cancelled);
        // the photos decoded now are written for the next run while the generic pass and the BatchNorm decision run
        decodeNote = null;
        decodeSave = decoded == null ? null : decoded.saveInBackground();
        double decodeS = secs(tStart);

        // generic accuracy: the backbone as shipped, over all its classes
        Map<String, float[]> original = BnStats.snapshot(backbone);
        listener.onPhase(Phase.BATCHNORM, "Checking BatchNorm statistics (" + config.bnMode() + ")");
        long tGeneric = System.nanoTime();
        double generic;
        if (data.evalIsOutOfFold()) {
            // no test images: the backbone as shipped on the labelled training photos (it never trained on them)
            List<float[]> xs = new ArrayList<>();
            List<String> ls = new ArrayList<>();
            for (int i = 0; i < data.trainSize(); i++) {
                if (data.trainLabel.get(i) != null) {
                    xs.add(data.trainX.get(i));
                    ls.add(data.trainLabel.get(i));
                }
            }
            generic = genericAccuracy(logits(xs, cancelled), ls);
        } else {
            generic = genericAccuracy(logits(data.evalX, cancelled), data.evalLabel);
        }
        double genericS = secs(tGeneric);
        long t1 = System.nanoTime();
        BnDecision bn;
        Resumption resumption = Resumption.of(config, backbone);
        try {
            bn = resumption != null ? resumption.batchNorm(backbone)
                    : new BatchNormPhase(backbone, config).decide(data, original, cancelled);
        } catch (RuntimeException | Error e) {
            // cancelled or failed mid-decision: the backbone leaves as it came
            BnStats.restore(backbone, original);
            throw e;
        }
        double bnS = secs(t1);

        FeatureCache cache = null;
        List<ExitHead> heads = new ArrayList<>();
        FinalExitPhase fin = null;
        // the re-fit check's fold heads, until the cross-fitting takes them
        RefitDecision.Folds decided = null;
        try {
            // the decode cache's file lives in the memo folder, whose cap the frozen pass applies: the write ends
            // first (it overlapped the generic pass and the BatchNorm decision); a wait counts as decoding
            long tw = System.nanoTime();
            decodeNote = awaitDecodeSave();
            decodeS += secs(tw);
            long t2 = System.nanoTime();
            String last = backbone.stages().get(backbone.stages().size() - 1).name();
            boolean refit = config.refitFinal() && data.labelledUsed() > 0;
            int retrain = retrainedStages(refit);
            String retrainInput = retrain == 0 ? null
                    : backbone.stages().get(backbone.stages().size() - retrain - 1).name();
            FrozenPass pass = new FrozenPass(backbone, config);
            cache = pass.run(data, refit ? last : null, retrainInput, listener, cancelled);
            double cacheAllS = secs(t2);
            double cacheS = cache.markSeconds();

            int nTrain = data.trainSize();
            int nEval = data.evalSize();
            float[][] backboneLogits = HeadOutputs.rows(cache.logits(), 0, nTrain + nEval);
            PersonalLabelSpace space;
            if (resumption == null) {
                space = PersonalLabelSpace.infer(backbone.classNames(), data.trainLabel, backboneLogits,
                        config.unlabelledRule(), config.pseudoLabelThreshold(), config.classes());
            } else {
                PersonalLabelSpace inferred = null;
                try {
                    inferred = PersonalLabelSpace.infer(backbone.classNames(), data.trainLabel, backboneLogits,
                            config.unlabelledRule(), config.pseudoLabelThreshold(), config.classes());
                } catch (PersonalisationException fewerThanTwo) {
                    // labels of one class so far: the resumed run keeps the earlier classes
                }
                space = resumption.labelSpace(data, inferred, !config.classes().isEmpty());
                resumption.checkLabels(data);
                resumption.checkSettings(config);
                if (!resumption.warm() && config.epochs() != resumption.freshEpochs()) {
                    // heads that start fresh train as the first run's did, not for an update's few epochs
                    config = config.toBuilder().optEpochs(resumption.freshEpochs()).build();
                    trainer = new ExitTrainer(config, backbone);
                }
            }
            List<PersonalLabelSpace.LeftOut> leftOut = config.classes().isEmpty()
                    && data.trainLabel.stream().allMatch(java.util.Objects::isNull)
                    ? space.leftOut(backbone.classNames(), data.trainLabel, backboneLogits, config.pseudoLabelThreshold())
                    : List.of();
            List<ExitPlacement> ordered = new ArrayList<>(config.placements());
            ordered.sort(java.util.Comparator.comparingInt(p -> backbone.stage(p.stage()).index()));
            String refitChoice = null;
            double decideS = 0;
            Boolean earlierRefit = refit && config.refitChecked() && resumption != null
                    ? resumption.earlierRefit(data) : null;
            if (earlierRefit != null) {
                // the check reads only the labelled photos: the same ones, the same labels, the same answer
                refit = earlierRefit;
                refitChoice = inheritedRefitChoice(refit, resumption.earlierRefitChoice());
                retrain = refit ? retrain : 0;
            } else if (refit && config.refitChecked()) {
                // a re-fit on few labels can be far worse than the classifier it starts from, and it teaches the
                // exits: dropped where it is worse out of fold on the labelled photos
                long td = System.nanoTime();
                CrossFit.Carry start = resumption == null ? null : resumption.carriedFolds(data, config, ordered);
                RefitDecision.Outcome o = RefitDecision.decide(backbone, config, trainer, cache, data, space,
                        backboneLogits, last, start, listener, cancelled);
                refit = o.refit();
                refitChoice = o.reason();
                decided = o.folds();
                retrain = refit ? retrain : 0;
                decideS = secs(td);
            }
            // the frozen final exit as teacher, restricted to the personal label space (log-probabilities)
            float[][] teacher = new float[nTrain + nEval][];
            for (int i = 0; i < teacher.length; i++) {
                teacher[i] = HeadOutputs.logProbs(space, backboneLogits[i]);
            }
            int[] evalTruth = new int[nEval];
            for (int i = 0; i < nEval; i++) {
                String l = data.evalLabel.get(i);
                evalTruth[i] = l == null ? -1 : space.indexOf(l) < 0 ? -2 : space.indexOf(l);
            }

            long t3 = System.nanoTime();
            double resumeS = 0;
            for (ExitPlacement p : ordered) {
                heads.add(new ExitHead(p, backbone.stage(p.stage()).outputShape(), space.size()));
            }
            fin = new FinalExitPhase(backbone, config, trainer, cache, nTrain, nEval);
            float[][] frozenTrain = FinalExitPhase.softmaxRows(teacher, 0, nTrain);
            CrossFit.Carry carry = null;
            if (resumption != null) {
                resumption.checkForNews(data, ordered, refit, config);
                carry = resumption.carry(data, config, ordered);
                resumption.warmStart(heads, trainer);
            }
            if (refit) {
                // stage 1: fit the final classifier to the person's labels; it then teaches the exits
                fin.refit(last, data, space, teacher, resumption, decided, listener, cancelled);
            }
            EvalPredictions resumedValidation = null;
            boolean resumed = resumption != null && resumption.warm();
            if (resumed && carry == null) {
                long tv = System.nanoTime();
                resumedValidation = resumption.validation(data, space, heads,
                        fin.trainBefore() != null ? fin.trainBefore() : frozenTrain, trainer, cache, cancelled);
                if (config.teacher() == Teacher.ENSEMBLE) {
                    // the teacher the earlier run's second round had: the late ensemble of the heads it left
                    teacher = trainer.lateEnsemble(heads, teacher, cache, nTrain, cancelled);
                }
                resumeS = secs(tv);
            }
            Targets targets = Targets.build(data, space, teacher, config);
            if (retrain > 0 && targets.used() > 0) {
                fin.retrain(retrain, retrainInput, targets, teacher, space.size(), listener, cancelled);
            }
            if (targets.used() == 0) {
                throw new PersonalisationException("nothing to train on: no labels and no unlabelled image where "
                        + "the final exit is confident enough (lower the pseudo-label confidence, use distillation, "
                        + "or label some images)");
            }
            // stage 2: the exits learn from labels and the (personalised) final exit
            ExitRounds exitRounds = new ExitRounds(backbone, config, trainer, cache, nTrain, evalTruth,
                    fin.evalProbabilities(teacher), fin.head());
            boolean kept = resumption != null && resumption.keep();
            ExitRounds.Outcome rounds = kept || carry != null
                    ? exitRounds.keep(heads, targets, kept ? "Nothing new since the last run: its " + heads.size()
                            + " exit(s) are kept as they were" : "The last run's folds carry on: their mean replaces "
                            + "the exits after the validation", listener, cancelled)
                    : exitRounds.train(heads, ordered, data, space, teacher, targets, resumed, listener, cancelled);
            EvalPredictions preds = rounds.predictions();
            // predictions on the held-out images made during training are evaluation, not training
            double evalInTraining = fin.evalSeconds() + rounds.evalSeconds();
            double trainS = secs(t3) - evalInTraining - resumeS;
            long tVal = System.nanoTime();
            double evalInValidation = 0;
            float[][][] refitOof = new float[1][][];
            FoldAverage average = config.foldAverage() && (!resumed || carry != null) ? new FoldAverage() : null;
            EvalPredictions validation = resumed && carry == null ? resumedValidation : config.validationFolds() > 0
                    ? new CrossFit(config, backbone, trainer).run(data, space, cache, refit ? last : null,
                            fin.retrained() == null ? 0 : retrain, ordered, backboneLogits, refitOof, average, carry,
                            decided, listener, cancelled)
                    : null;
            String retrainChoice = null;
            if (fin.retrained() != null && validation != null && refitOof[0] != null) {
                FinalExitPhase.Choice choice = fin.keepOrDrop(validation, refitOof[0], preds);
                validation = choice.validation();
                preds = choice.predictions();
                retrainChoice = choice.reason();
            }
            String headsFrom = kept ? "kept from " + config.resume().from() + " (nothing new: no training)"
                    : "trained on all " + nTrain + " training images";
            Map<String, float[][]> trainedOnAll = kept ? resumption.trainedOnAll(heads) : Map.of();
            if (average != null && validation != null) {
                // the heads the choices were made with, averaged: the deployed cascade is the validated one; a later
                // run carries on training from the heads as trained on all the images (ResumeState)
                List<Integer> averaged = average.apply(heads, fin.retrained() == null ? fin.head() : null);
                trainedOnAll = average.replaced();
                if (!averaged.isEmpty() || average.finalAveraged()) {
                    long tr = System.nanoTime();
                    preds = repredict(preds, heads, averaged, average.finalAveraged() ? fin.head() : null, cache,
                            nTrain, nEval, cancelled);
                    // the held-out images' predictions are evaluation, as during training
                    evalInValidation += secs(tr);
                    headsFrom = describeAverage(heads, averaged, average, nTrain);
                }
                if (carry != null) {
                    // the mean is what the next update carries on, fold by fold, or from the mean where it cannot
                    trainedOnAll = Map.of();
                    headsFrom += " (the folds of " + config.resume().from().getFileName() + " carried on "
                            + config.epochs() + " epochs)";
                }
            }
            if (average != null && !refit && decided != null && decided.heads() != null) {
                average.addCheckedFinals(decided.heads());
            }
            PersonalisationResult.Folds folds = average != null && validation != null
                    ? average.folds(config.validationFolds()) : kept ? resumption.folds(data) : null;
            double validationS = secs(tVal) + resumeS + decideS - evalInValidation;
            // the cascade's last word: the final exit alone or with the late exits, decided out of fold
            FinalEnsemble.Choice ensemble = FinalEnsemble.choose(validation, config.finalEnsemble());
            float[][] validationFinalAlone = validation == null ? null : validation.finalExit();
            preds = FinalEnsemble.apply(preds, ensemble.members());
            validation = validation == null ? null : FinalEnsemble.apply(validation, ensemble.members());
            if (data.evalIsOutOfFold()) {
                if (validation == null) {
                    throw new PersonalisationException("no test images and no out-of-fold predictions to score on: "
                            + "add a test/<class>/ folder");
                }
                preds = validation;
            }

            PersonalisationResult result = new PersonalisationResult(backbone, config, space, data, rounds.targets(),
                    heads, fin.head(), fin.retrained(), retrainChoice, new PersonalisationResult.Final(ensemble,
                    validationFinalAlone, refitChoice), new PersonalisationResult.Deployed(headsFrom, trainedOnAll, folds),
                    preds, validation, generic, bn,
                    new PersonalisationResult.Timing(decodeS, bnS, cacheS, trainS,
                            genericS + cacheAllS - cacheS + evalInTraining + evalInValidation, secs(tStart),
                            validationS),
                    new PersonalisationResult.CacheUse(cache.heapBytes(), cache.spilledBytes(), cache.rows(),
                            cache.computed(), memoNotes(pass)),
                    resumption == null ? null : new PersonalisationResult.Resumed(config.resume().from().toString(),
                            resumption.warm(), !kept, resumption.freshEpochs(), resumption.notes()), leftOut);
            heads = List.of();
            fin.release();
            return result;
        } finally {
            awaitDecodeSave();
            if (cache != null) {
                cache.close();
            }
            heads.forEach(ExitHead::close);
            if (fin != null) {
                fin.close();
            }
            if (decided != null) {
                decided.close();
            }
            BnStats.restore(backbone, original);
        }
    }

    /** The decode cache's write for the next run, until the run has waited for it. */
    private java.util.concurrent.Future<String> decodeSave;

    /** Waits for the decode cache's write: null when it was written or had nothing to write, else why not. */
    private String awaitDecodeSave() {
        java.util.concurrent.Future<String> f = decodeSave;
        decodeSave = null;
        if (f == null) {
            return null;
        }
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return f.get();
                } catch (InterruptedException e) {
                    // a cancelled run still waits for the write (a few milliseconds), so no file is written after it
                    interrupted = true;
                } catch (java.util.concurrent.ExecutionException e) {
                    return "decoded photos not kept for the next run: " + e.getCause();
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Why the decode cache was not written this run, or null. */
    private String decodeNote;

    /** What went wrong with the feature memo and the decode cache (never fatal). */
    private List<String> memoNotes(FrozenPass pass) {
        List<String> notes = new ArrayList<>(pass.memoNotes());
        if (decodeNote != null) {
            notes.add(decodeNote);
        }
        return notes;
    }

    /**
     * How many last stages this run re-trains: {@code config.retrainLast()} when the final exit is re-fitted
     * (there are labels) and the backbone is declarative, else 0.
     *
     * @throws PersonalisationException when an exit sits on a stage that would be re-trained (it would read
     *                                  the frozen stage while the final exit reads the copy)
     */
    private int retrainedStages(boolean refit) throws PersonalisationException {
        int n = config.retrainLast();
        if (n == 0 || !refit || backbone.isTorchScript()) {
            return 0;
        }
        int total = backbone.stages().size();
        if (n >= total) {
            throw new PersonalisationException("cannot re-train the last " + n + " stages: " + backbone.id()
                    + " has " + total + " (at most " + (total - 1) + ")");
        }
        for (ExitPlacement p : config.placements()) {
            if (backbone.stage(p.stage()).index() >= total - n) {
                throw new PersonalisationException("the exit at " + p.stage() + " sits on a stage that would be "
                        + "re-trained (the last " + n + "): place exits before " + backbone.stages().get(total - n).name()
                        + " or re-train fewer stages");
            }
        }
        return n;
    }

    /** The held-out images' predictions again, from the heads that now carry the folds' mean. */
    private EvalPredictions repredict(EvalPredictions preds, List<ExitHead> heads, List<Integer> averaged,
                                      ExitHead finalHead, FeatureCache cache, int nTrain, int nEval,
                                      BooleanSupplier cancelled) {
        List<float[][]> exits = new ArrayList<>(preds.exits());
        for (int j : averaged) {
            ExitHead h = heads.get(j);
            exits.set(j, HeadOutputs.probabilities(h, trainer.input(h, cache), nTrain, nEval, cancelled));
        }
        float[][] fin = finalHead == null ? preds.finalExit()
                : HeadOutputs.probabilities(finalHead, trainer.input(finalHead, cache), nTrain, nEval, cancelled);
        return new EvalPredictions(preds.stages(), exits, fin, preds.truth(), preds.classes());
    }

    /** Where the deployed heads come from, for the provenance ({@link FoldAverage}). */
    private static String describeAverage(List<ExitHead> heads, List<Integer> averaged, FoldAverage average,
                                          int nTrain) {
        List<String> parts = new ArrayList<>();
        if (averaged.size() == heads.size()) {
            parts.add("every exit");
        } else if (!averaged.isEmpty()) {
            parts.add("the exits at " + String.join(", ", averaged.stream().map(j -> heads.get(j).stage()).toList()));
        }
        if (average.finalAveraged()) {
            parts.add("the final exit");
        }
        String s = "mean of the " + average.folds() + " cross-fitted folds' heads: " + String.join(" and ", parts);
        return averaged.size() == heads.size() ? s
                : s + "; the other exits (heads with hidden layers) trained on all " + nTrain + " training images";
    }

    private static double secs(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    /**
     * Whether a run with no test images and this many training photos is scored out of fold (every photo trains)
     * rather than on a seeded hold-out: with cross-fitting on and enough photos for its folds.
     */
    public static boolean scoresOutOfFold(long trainingPhotos, int validationFolds) {
        return validationFolds > 0 && trainingPhotos >= (long) CrossFit.MIN_PER_FOLD * validationFolds;
    }

    /** Inference-mode logits of the whole backbone for some images. */
    private float[][] logits(List<float[]> xs, BooleanSupplier cancelled) {
        return BatchNormPhase.logits(backbone, xs, config.batchSize(), cancelled);
    }

    private double genericAccuracy(float[][] logits, List<String> labels) {
        int n = 0;
        int correct = 0;
        List<String> names = backbone.classNames();
        for (int i = 0; i < logits.length; i++) {
            String l = labels.get(i);
            if (l == null) {
                continue;
            }
            n++;
            if (names.get(org.persephonee.core.util.Vectors.argmax(logits[i])).equals(l)) {
                correct++;
            }
        }
        return n == 0 ? Double.NaN : correct / (double) n;
    }
}
