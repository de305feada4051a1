package org.persephonee.core.workspace;

import com.google.gson.Gson;
import com.google.gson.JsonParseException;
import org.persephonee.core.eval.LatencyProfile;
import org.persephonee.core.personalise.EvalPredictions;
import org.persephonee.core.util.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the lab keeps of its last personalisation run besides the bundle of all its exits: the evaluation
 * predictions, label space, evaluation image files and latency profile, enough to redraw every curve
 * and pick thresholds again after a restart without re-running the network.
 */
public final class RunRecord {
    public static final String FILE = "run.json";

    public String backboneSha256;
    /** Exit placements in cascade order, {@code stage:headId}. */
    public List<String> exits = new ArrayList<>();
    public List<float[][]> exitProbabilities = new ArrayList<>();
    public float[][] finalProbabilities;
    public int[] truth;
    public int classes;
    public boolean refitFinal;
    /**
     * Whether the run re-fitted the final classifier on the labels or kept the backbone's, and why (decided out of
     * fold); null when not checked (no labels), or in records kept before session 30.
     */
    public String refitChoice;
    /**
     * With guessed classes, those the guess left out although the backbone named them first for many photos (as
     * {@code PersonalLabelSpace.LeftOut#describe}); null or empty when none, or in records kept before session 37.
     */
    public List<String> labelSpaceLeftOut;
    /**
     * The training photos' out-of-fold predictions the run chose its operating point on (its exits, then the final
     * exit as deployed; -1 for an unlabelled photo): the lab shows the same thresholds on them next to the test
     * photos. Null when the run had none (too few photos, an update) and in records kept before session 34.
     */
    public List<float[][]> validationExitProbabilities;
    public float[][] validationFinalProbabilities;
    public int[] validationTruth;
    /** Stages of the exits the final exit was averaged with (empty: alone; null in records before session 34). */
    public List<String> finalEnsemble;
    public List<String> labels = new ArrayList<>();
    public List<String> evalImages = new ArrayList<>();
    public double genericAccuracy;
    public String latencySource;
    public Map<String, Double> stageMs = new LinkedHashMap<>();
    public Map<String, Double> headMs = new LinkedHashMap<>();
    public double classifierMs;
    /** When the run finished (ISO-8601). */
    public String date;
    /** The run's configuration ({@code PersonalisationConfig.describe()}). */
    public Map<String, Object> config = new LinkedHashMap<>();
    /** Labelled training images the run used. */
    public int labelsUsed;
    /** Operating point: accuracy on the evaluation images, speed-up over the personalised final exit. */
    public double accuracy;
    public double speedup;
    /** Training photos of the run (0 in records written before it was kept). */
    public int photos;
    /** Seconds the personalisation took (decode, BatchNorm, frozen pass, heads, choice); 0 when not kept. */
    public double seconds;
    /** True when the run updated the one before it (new photos only, warm heads). */
    public boolean update;
    /** Photos the backbone ran on (the others were known to the feature memo); -1 when not kept. */
    public int backboneRanOn = -1;
    /** What the figures were measured on (e.g. "320 test images"). */
    public String evaluatedOn;
    /**
     * True when the run had no test images: every photo trained and the figures are the training photos' out-of-fold
     * predictions (false in records kept before session 35, which had test images or a hold-out).
     */
    public boolean scoredOutOfFold;
    /**
     * The operating point: indices into {@link #exits} in cascade order and the confidence (max softmax) at or above
     * which an image leaves at each; null in records kept before 2026-12-04 (session 17).
     */
    public int[] opExits;
    public double[] opThresholds;

    /** The run's review queue (the unlabelled training photos in the order to label them), so it survives a restart. */
    public List<ReviewEntry> review = new ArrayList<>();

    /** One photo of the review queue. */
    public static final class ReviewEntry {
        public String path;
        /** The run's likeliest classes, most likely first, with their confidences. */
        public List<String> guesses = new ArrayList<>();
        public List<Double> confidences = new ArrayList<>();
        /** The stage of the exit that would take it, or "final". */
        public String exit;

        public ReviewEntry() { }

        public ReviewEntry(String path, List<String> guesses, List<Double> confidences, String exit) {
            this.path = path;
            this.guesses = new ArrayList<>(guesses);
            this.confidences = new ArrayList<>(confidences);
            this.exit = exit;
        }
    }

    /** The stored predictions. */
    public EvalPredictions predictions() {
        List<String> stages = exits.stream().map(org.persephonee.core.exits.ExitPlacement::stageOf).toList();
        return new EvalPredictions(stages, exitProbabilities, finalProbabilities, truth, classes);
    }

    /**
     * The training photos' out-of-fold predictions, or null when the record holds none that are labelled or they do
     * not fit its exits.
     */
    public EvalPredictions validationPredictions() {
        if (validationExitProbabilities == null || validationFinalProbabilities == null || validationTruth == null
                || validationExitProbabilities.size() != exits.size()
                || validationFinalProbabilities.length != validationTruth.length
                || validationExitProbabilities.stream().anyMatch(e -> e == null || e.length != validationTruth.length)) {
            return null;
        }
        List<String> stages = exits.stream().map(org.persephonee.core.exits.ExitPlacement::stageOf).toList();
        EvalPredictions v = new EvalPredictions(stages, validationExitProbabilities, validationFinalProbabilities,
                validationTruth, classes);
        return v.labelled() ? v : null;
    }

    /**
     * Whether the operating point classified each labelled evaluation image right, by image file (unlabelled images
     * left out); null when the record does not hold its operating point (kept before it did).
     */
    public Map<String, Boolean> operatingPointCorrect() {
        if (opExits == null || opThresholds == null || opExits.length != opThresholds.length || evalImages == null
                || evalImages.size() != truth.length
                || java.util.Arrays.stream(opExits).anyMatch(e -> e < 0 || e >= exitProbabilities.size())) {
            return null;
        }
        Map<String, Boolean> out = new LinkedHashMap<>();
        EvalPredictions p = predictions();
        if (!p.labelled()) {
            return out;
        }
        // the cascade's own rule (costs play no part in which exit takes an image)
        boolean[] right = org.persephonee.core.eval.Cascade.decisionsOnly(p,
                org.persephonee.core.eval.Confidence.MAX_SOFTMAX).rightPerImage(opExits, opThresholds);
        int k = 0;
        for (int i = 0; i < truth.length; i++) {
            if (truth[i] != -1) {
                out.put(evalImages.get(i), right[k++]);
            }
        }
        return out;
    }

    /** The stored latency profile. */
    public LatencyProfile profile() {
        return LatencyProfile.of(latencySource, stageMs, headMs, classifierMs);
    }

    /** Writes {@code run.json} in {@code dir} atomically. */
    public void save(Path dir) throws IOException {
        AtomicFiles.writeString(dir.resolve(FILE), new Gson().toJson(this));
    }

    /**
     * Writes {@code run.json} without the training photos' out-of-fold predictions ({@code validation*}): the run
     * history's copies are for comparing runs on the test photos, and those predictions would about double each of
     * the twenty (the last run keeps them, and its bundle's {@code resume.json} has them too).
     */
    public void saveWithoutValidation(Path dir) throws IOException {
        Gson gson = new com.google.gson.GsonBuilder().setExclusionStrategies(new com.google.gson.ExclusionStrategy() {
            @Override
            public boolean shouldSkipField(com.google.gson.FieldAttributes f) {
                return f.getDeclaringClass() == RunRecord.class && f.getName().startsWith("validation");
            }

            @Override
            public boolean shouldSkipClass(Class<?> c) {
                return false;
            }
        }).create();
        AtomicFiles.writeString(dir.resolve(FILE), gson.toJson(this));
    }

    /** Reads {@code run.json} from {@code dir}. */
    public static RunRecord load(Path dir) throws IOException {
        try {
            RunRecord r = new Gson().fromJson(Files.readString(dir.resolve(FILE)), RunRecord.class);
            if (r == null || r.truth == null || r.finalProbabilities == null || r.exits == null
                    || r.exits.size() != r.exitProbabilities.size()) {
                throw new IOException(dir.resolve(FILE) + ": incomplete run record");
            }
            return r;
        } catch (JsonParseException e) {
            throw new IOException(dir.resolve(FILE) + ": not a readable run record (" + e.getMessage() + ")", e);
        }
    }

    /**
     * True when the run's classes were guessed from the backbone's predictions: it used no label and named no class
     * ({@code classes} in its config). False for a record that kept no config (written before configs were kept).
     */
    public boolean labelSpaceGuessed() {
        Object named = config.get("classes");
        return !config.isEmpty() && labelsUsed == 0
                && (named == null || named instanceof java.util.Collection<?> c && c.isEmpty());
    }
}
