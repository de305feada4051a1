package org.persephonee.core.personalise;

import org.persephonee.core.exits.ExitPlacement;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Everything that decides a personalisation run; recorded with its result. Build with
 * {@link #builder()}: {@code setX} for required values, {@code optX} for optional ones.
 */
public final class PersonalisationConfig {
    /**
     * Defaults of the settings a person changes: the config's builder, the lab's side panel, the CLI and the bench
     * all start from these (they were written out in four places).
     */
    public static final int DEFAULT_EPOCHS = 10;
    /** Epochs of a run resumed from an earlier one ({@link #resume()}): its heads start from trained weights. */
    public static final int DEFAULT_RESUME_EPOCHS = 3;
    public static final double DEFAULT_LEARNING_RATE = 0.03;
    public static final double DEFAULT_PSEUDO_LABEL_THRESHOLD = 0.8;
    public static final double DEFAULT_TEMPERATURE = 2.0;
    public static final long DEFAULT_SEED = 42;
    /**
     * The late ensemble teaches a second round (the epochs shared between the rounds): bench, ~10 % / 0 % labels,
     * night-owl and tilted-phone, the operating point is within 0-2.0 points of the best single head on the test
     * images (final exit as teacher: 2.3-4.7), at the same head-training cost; on the reserved images the two
     * teachers are level (sum over the four rows 284.8 vs 285.1 points).
     */
    public static final Teacher DEFAULT_TEACHER = Teacher.ENSEMBLE;

    private final List<ExitPlacement> placements;
    private final LabelRegime labels;
    private final UnlabelledRule unlabelledRule;
    private final float pseudoLabelThreshold;
    private final float temperature;
    private final int epochs;
    private final float learningRate;
    private final float weightDecay;
    private final int batchSize;
    private final boolean refitFinal;
    private final boolean refitChecked;
    private final BnMode bnMode;
    private final long seed;
    private final long cacheBudgetBytes;
    private final Path spillDir;
    private final Path featureMemo;
    private final ResumeState resume;
    /** Cross-fitting folds unless a run asks otherwise. */
    public static final int DEFAULT_VALIDATION_FOLDS = 4;
    private final double holdoutFraction;
    private final boolean evalEveryEpoch;
    private final int validationFolds;
    private final int retrainLast;
    private final Teacher teacher;
    private final boolean labelsChosen;
    private final boolean finalEnsemble;
    private final boolean foldAverage;
    private final boolean carryFolds;
    private final List<String> classes;

    private PersonalisationConfig(Builder b) {
        this.placements = List.copyOf(b.placements);
        this.labels = b.labels;
        this.unlabelledRule = b.unlabelledRule;
        this.pseudoLabelThreshold = b.pseudoLabelThreshold;
        this.temperature = b.temperature;
        this.epochs = b.epochs;
        this.learningRate = b.learningRate;
        this.weightDecay = b.weightDecay;
        this.batchSize = b.batchSize;
        this.refitFinal = b.refitFinal;
        this.refitChecked = b.refitChecked;
        this.bnMode = b.bnMode;
        this.seed = b.seed;
        this.cacheBudgetBytes = b.cacheBudgetBytes;
        this.spillDir = b.spillDir;
        this.featureMemo = b.featureMemo;
        this.resume = b.resume;
        this.holdoutFraction = b.holdoutFraction;
        this.evalEveryEpoch = b.evalEveryEpoch;
        this.validationFolds = b.validationFolds;
        this.retrainLast = b.retrainLast;
        this.teacher = b.teacher;
        this.labelsChosen = b.labelsChosen;
        this.finalEnsemble = b.finalEnsemble;
        this.foldAverage = b.foldAverage;
        this.carryFolds = b.carryFolds;
        this.classes = List.copyOf(b.classes);
    }

    public static Builder builder() { return new Builder(); }

    /** A builder preset with this config's values. */
    public Builder toBuilder() {
        return builder().setPlacements(placements).optLabels(labels).optUnlabelledRule(unlabelledRule)
                .optPseudoLabelThreshold(pseudoLabelThreshold).optTemperature(temperature).optEpochs(epochs)
                .optLearningRate(learningRate).optWeightDecay(weightDecay).optBatchSize(batchSize)
                .optRefitFinal(refitFinal).optRefitChecked(refitChecked).optBnMode(bnMode).optSeed(seed)
                .optCacheBudgetBytes(cacheBudgetBytes)
                .optSpillDir(spillDir).optFeatureMemo(featureMemo).optResume(resume).optHoldoutFraction(holdoutFraction)
                .optEvalEveryEpoch(evalEveryEpoch).optValidationFolds(validationFolds).optRetrainLast(retrainLast)
                .optTeacher(teacher).optLabelsChosen(labelsChosen)
                .optFinalEnsemble(finalEnsemble).optFoldAverage(foldAverage).optCarryFolds(carryFolds)
                .optClasses(classes);
    }

    public List<ExitPlacement> placements() { return placements; }

    public LabelRegime labels() { return labels; }

    public UnlabelledRule unlabelledRule() { return unlabelledRule; }

    public float pseudoLabelThreshold() { return pseudoLabelThreshold; }

    public float temperature() { return temperature; }

    public int epochs() { return epochs; }

    public float learningRate() { return learningRate; }

    public float weightDecay() { return weightDecay; }

    public int batchSize() { return batchSize; }

    public boolean refitFinal() { return refitFinal; }

    /**
     * Whether a re-fit of the final classifier is checked out of fold against the backbone's classifier on the
     * labelled photos and dropped where it is worse ({@link RefitDecision}); false re-fits whenever there are
     * labels (the paper's method).
     */
    public boolean refitChecked() { return refitChecked; }

    public BnMode bnMode() { return bnMode; }

    public long seed() { return seed; }

    public long cacheBudgetBytes() { return cacheBudgetBytes; }

    /** Folder for spilled feature files; null means the system temp folder. */
    public Path spillDir() { return spillDir; }

    /** The run this one carries on from ({@link ResumeState}), or null for a run from scratch. */
    public ResumeState resume() { return resume; }

    /** Where the frozen pass's rows are kept between runs ({@link FeatureMemo}), or null for nowhere. */
    public Path featureMemo() { return featureMemo; }

    public double holdoutFraction() { return holdoutFraction; }

    /** Whether exits are evaluated after every epoch (live curves) or only after the last. */
    public boolean evalEveryEpoch() { return evalEveryEpoch; }

    /**
     * Folds of the training images the heads are cross-fitted on to give every training image an out-of-fold
     * prediction: thresholds, exit subset and the accuracy bar are chosen on those, never on the evaluation
     * (test) images. 0 chooses on the evaluation images (the behaviour before, for comparison).
     */
    public int validationFolds() { return validationFolds; }

    /**
     * How many of the backbone's last stages are re-trained (a copy, on the cached input of the first of them)
     * under the re-fitted final head, which together become the personalised final exit; 0 keeps the frozen
     * stages. Needs labels (like the re-fit) and a declarative backbone, and no exit on those stages. With
     * cross-fitting on, the copy is kept only when its out-of-fold accuracy beats the frozen stages'.
     */
    public int retrainLast() { return retrainLast; }

    /** Who teaches the exits on unlabelled images. */
    public Teacher teacher() { return teacher; }

    /**
     * Whether the final exit may be averaged with the later half of the exits when that is better out of fold
     * ({@link FinalEnsemble}); false keeps the final exit alone, as in the paper.
     */
    public boolean finalEnsemble() { return finalEnsemble; }

    /**
     * Whether the deployed heads are the mean of the cross-fitted folds' heads, where the heads can be averaged
     * ({@link FoldAverage}); false deploys heads trained once more on all the training images.
     */
    public boolean foldAverage() { return foldAverage; }

    /**
     * Whether a resumed run carries the earlier run's cross-fitted folds on (each fold warm-started, the folds' mean
     * deployed, choices on predictions no head trained on) where the state has them; false updates the deployed heads
     * and chooses on the held-out predictions the state kept.
     */
    public boolean carryFolds() { return carryFolds; }

    /**
     * True when the labels were chosen for review (the lab's review queue asks about the photos its heads are least
     * sure of), not a random sample of the person's photos: recorded with the run. Choices score every training image
     * (its label where there is one, elsewhere the class of the head that sets the bar) whenever some are unlabelled,
     * chosen or not ({@link EvalPredictions#forSelection()}); until session 31 a random sample of 100 labels or more
     * was scored alone, and this flag made chosen ones count as fewer: the reviewed photos alone are the hard ones,
     * and a cascade judged on them alone looked as good as the best head while 12 points below it on the test images
     * (night-owl, 100 reviewed labels).
     */
    public boolean labelsChosen() { return labelsChosen; }

    /**
     * The person's classes as declared (no photo labelled for it), or empty to infer them: the label space is these
     * and the classes of any labels. With no labels the classes otherwise come from the backbone's confident
     * predictions, which a capture shift misleads (night-owl: 7 or 8 classes for its 5, the extra ones taking photos
     * of the true ones); naming them fixes the label space (README, *label space without labels*).
     */
    public List<String> classes() { return classes; }

    /** The config as JSON-ready key/values, for results and bundles. */
    public Map<String, Object> describe() {
        return ConfigDescription.of(this);
    }

    /** Builder. */
    public static final class Builder {
        private List<ExitPlacement> placements = List.of();
        private LabelRegime labels = LabelRegime.ALL;
        private UnlabelledRule unlabelledRule = UnlabelledRule.BOTH;
        private float pseudoLabelThreshold = (float) DEFAULT_PSEUDO_LABEL_THRESHOLD;
        private float temperature = (float) DEFAULT_TEMPERATURE;
        private int epochs = DEFAULT_EPOCHS;
        private float learningRate = (float) DEFAULT_LEARNING_RATE;
        private float weightDecay = 1e-4f;
        private int batchSize = 64;
        private boolean refitFinal = true;
        private boolean refitChecked = true;
        private BnMode bnMode = BnMode.AUTO;
        private long seed = DEFAULT_SEED;
        private long cacheBudgetBytes = 1L << 30;
        private Path spillDir;
        private Path featureMemo;
        private ResumeState resume;
        private double holdoutFraction = 0.2;
        private int validationFolds = DEFAULT_VALIDATION_FOLDS;
        private boolean evalEveryEpoch = true;
        private int retrainLast = 0;
        private Teacher teacher = DEFAULT_TEACHER;
        private boolean labelsChosen;
        private boolean finalEnsemble = true;
        private boolean foldAverage = true;
        private boolean carryFolds = true;
        private List<String> classes = List.of();

        /** Required: the exits to train (at least one). */
        public Builder setPlacements(List<ExitPlacement> p) {
            this.placements = List.copyOf(p);
            return this;
        }

        public Builder optLabels(LabelRegime r) {
            this.labels = r;
            return this;
        }

        public Builder optUnlabelledRule(UnlabelledRule r) {
            this.unlabelledRule = r;
            return this;
        }

        public Builder optPseudoLabelThreshold(float t) {
            this.pseudoLabelThreshold = t;
            return this;
        }

        public Builder optTemperature(float t) {
            this.temperature = t;
            return this;
        }

        public Builder optEpochs(int e) {
            this.epochs = e;
            return this;
        }

        public Builder optLearningRate(float lr) {
            this.learningRate = lr;
            return this;
        }

        public Builder optWeightDecay(float wd) {
            this.weightDecay = wd;
            return this;
        }

        public Builder optBatchSize(int b) {
            this.batchSize = b;
            return this;
        }

        public Builder optRefitFinal(boolean r) {
            this.refitFinal = r;
            return this;
        }

        public Builder optRefitChecked(boolean c) {
            this.refitChecked = c;
            return this;
        }

        /** Sets {@link #optRefitFinal} and {@link #optRefitChecked} from one choice. */
        public Builder optFinalRefit(FinalRefit r) {
            this.refitFinal = r != FinalRefit.KEEP;
            this.refitChecked = r == FinalRefit.CHECKED;
            return this;
        }

        public Builder optBnMode(BnMode m) {
            this.bnMode = m;
            return this;
        }

        public Builder optSeed(long s) {
            this.seed = s;
            return this;
        }

        public Builder optCacheBudgetBytes(long b) {
            this.cacheBudgetBytes = b;
            return this;
        }

        public Builder optSpillDir(Path d) {
            this.spillDir = d;
            return this;
        }

        /** Carries on from an earlier run's state (null: from scratch). */
        public Builder optResume(ResumeState r) {
            this.resume = r;
            return this;
        }

        /** Keeps the frozen pass's rows in this folder between runs (null: not kept). */
        public Builder optFeatureMemo(Path d) {
            this.featureMemo = d;
            return this;
        }

        public Builder optHoldoutFraction(double f) {
            this.holdoutFraction = f;
            return this;
        }

        public Builder optEvalEveryEpoch(boolean e) {
            this.evalEveryEpoch = e;
            return this;
        }

        /** Cross-fitting folds for choosing on training images only (0: choose on the evaluation images). */
        public Builder optValidationFolds(int k) {
            this.validationFolds = k;
            return this;
        }

        /** Last stages re-trained under the re-fitted final head (0: none). */
        public Builder optRetrainLast(int n) {
            this.retrainLast = n;
            return this;
        }

        /** Whether the labels were chosen for review rather than a random sample (see {@link #labelsChosen()}). */
        public Builder optLabelsChosen(boolean chosen) {
            this.labelsChosen = chosen;
            return this;
        }

        /** Whether the final exit may be averaged with the late exits ({@link FinalEnsemble}); default true. */
        public Builder optFinalEnsemble(boolean allowed) {
            this.finalEnsemble = allowed;
            return this;
        }

        /** Whether the deployed heads are the mean of the cross-fitted folds' ({@link FoldAverage}); default true. */
        public Builder optFoldAverage(boolean averaged) {
            this.foldAverage = averaged;
            return this;
        }

        /** Whether a resumed run carries the earlier run's folds on ({@link #carryFolds()}); default true. */
        public Builder optCarryFolds(boolean carried) {
            this.carryFolds = carried;
            return this;
        }

        /**
         * The person's classes, declared without labelling photos ({@link #classes()}); empty (the default) infers
         * them. Names as the backbone spells them, matched ignoring case, spaces, '_', '-' and '/'.
         */
        public Builder optClasses(List<String> names) {
            java.util.List<String> out = new java.util.ArrayList<>();
            for (String n : java.util.Objects.requireNonNull(names, "classes")) {
                String t = n == null ? "" : n.strip();
                if (!t.isEmpty() && out.stream().noneMatch(o -> org.persephonee.core.data.ClassNames.key(o)
                        .equals(org.persephonee.core.data.ClassNames.key(t)))) {
                    out.add(t);
                }
            }
            this.classes = out;
            return this;
        }

        /** Who teaches the exits on unlabelled images. */
        public Builder optTeacher(Teacher t) {
            this.teacher = java.util.Objects.requireNonNull(t, "teacher");
            return this;
        }

        /**
         * Builds the config.
         *
         * @throws IllegalArgumentException when a value is out of range
         */
        public PersonalisationConfig build() {
            if (placements.isEmpty()) {
                throw new IllegalArgumentException("no exits placed: attach at least one exit head to a stage");
            }
            java.util.Set<String> stages = new java.util.HashSet<>();
            for (ExitPlacement p : placements) {
                if (!stages.add(p.stage())) {
                    throw new IllegalArgumentException("stage '" + p.stage() + "' has two exits");
                }
            }
            if (epochs < 1 || epochs > 10_000) {
                throw new IllegalArgumentException("epochs must be between 1 and 10000, got " + epochs);
            }
            if (!(learningRate > 0 && learningRate < 10)) {
                throw new IllegalArgumentException("learning rate must be in (0, 10), got " + learningRate);
            }
            if (!(pseudoLabelThreshold >= 0 && pseudoLabelThreshold <= 1)) {
                throw new IllegalArgumentException("pseudo-label confidence must be in [0, 1], got " + pseudoLabelThreshold);
            }
            if (!(temperature > 0 && temperature <= 100)) {
                throw new IllegalArgumentException("distillation temperature must be in (0, 100], got " + temperature);
            }
            if (batchSize < 1) {
                throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
            }
            if (!(holdoutFraction > 0 && holdoutFraction < 1)) {
                throw new IllegalArgumentException("holdout fraction must be in (0, 1), got " + holdoutFraction);
            }
            if (validationFolds != 0 && (validationFolds < 2 || validationFolds > 10)) {
                throw new IllegalArgumentException("validation folds must be 0 (off) or 2-10, got " + validationFolds);
            }
            if (retrainLast < 0 || retrainLast > 8) {
                throw new IllegalArgumentException("stages to re-train must be 0 (none) to 8, got " + retrainLast);
            }
            if (classes.size() == 1) {
                throw new IllegalArgumentException("one class declared (" + classes.get(0) + "): name at least two, "
                        + "or none to infer them");
            }
            return new PersonalisationConfig(this);
        }
    }
}
