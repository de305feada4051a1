package org.persephonee.core.personalise;

import com.google.gson.Gson;
import com.google.gson.JsonParseException;
import com.google.gson.annotations.SerializedName;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.util.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What a later run needs to carry on from this one instead of starting over ({@code resume.json} in a bundle):
 * the label space, the BatchNorm statistics the features were computed with, every exit's and the re-fitted final
 * exit's weights (the cascade in the bundle may use fewer), and the predictions every training photo got from
 * heads that had not trained on it (out of fold, or from an earlier update's heads for photos that arrived
 * later), keyed by the photo's {@link FeatureMemo#imageKey}. A resumed run warm-starts from the weights, keeps the
 * statistics (so the {@link FeatureMemo} knows the old photos), and chooses its operating point on those
 * predictions plus the new photos' predictions by the heads it starts from: no cross-fitting.
 */
public final class ResumeState {
    /** The file in a bundle. */
    public static final String FILE = "resume.json";
    static final String FORMAT = "persephonee-resume";
    static final int VERSION = 1;

    /** A linear layer's weights ({@code classes x in}, row-major) and bias. */
    record Linear(float[] weight, float[] bias) { }

    /**
     * One exit: its key ({@code stage:head}) and, for pooling + linear heads, its weights as trained on all the
     * photos and as deployed (the folds' mean; null in states written before it was kept).
     */
    record Exit(String key, Linear linear, Linear deployed) { }

    /**
     * A training photo's held-out predictions: per exit, in order, then the final exit; and the label the run
     * used for it (null: unlabelled, or a state written before labels were kept: see {@link File#labelsKept}).
     */
    record Photo(String id, List<float[]> exits, @SerializedName("final") float[] finalExit, String label,
                 Integer fold) { }

    /**
     * @param labelsKept whether {@link Photo#label} is the run's label (false in states written before it was)
     * @param training the settings the heads' training depended on ({@link #training}), null in older states
     * @param freshEpochs the epochs heads starting fresh train for: the first run's of this line of runs (0 in older
     *                    states: {@link PersonalisationConfig#DEFAULT_EPOCHS})
     * @param folds every cross-fitted fold's weights by exit key and {@code final}, in fold order, with each photo's
     *              {@link Photo#fold}: a later update carries the folds on; null when the run deployed no folds' mean
     * @param latency the milliseconds the run chose its operating point with; null in older states
     * @param refitChoice why the run re-fitted the final exit or kept the backbone's classifier
     *                    ({@link PersonalisationResult#refitChoice}); null when it was not checked, and in older states
     */
    record File(String format, int version, @SerializedName("backbone_sha256") String backboneSha256,
                List<String> labels, @SerializedName("label_backbone_index") int[] labelBackboneIndex,
                @SerializedName("batchnorm_adapted") boolean batchNormAdapted, List<Exit> exits,
                @SerializedName("final") Linear finalExit, @SerializedName("final_deployed") Linear finalDeployed,
                @SerializedName("labels_kept") boolean labelsKept, String training,
                @SerializedName("fresh_epochs") int freshEpochs, Map<String, List<Linear>> folds,
                List<Photo> validation, Latency latency, @SerializedName("refit_choice") String refitChoice) { }

    /**
     * The milliseconds per stage, per head (by key, the re-fitted final exit's too) and of the backbone's classifier
     * that a run chose its operating point with, and where they came from. A later run with nothing new chooses with
     * them again, so that it gives the same answer (measured anew, the timer's noise moved the choice in one of four
     * such runs on tilted-phone with no labels: 62.2 % at 1.41x, then 62.5 % at 1.34x with other exits).
     */
    public record Latency(String source, Map<String, Double> stages, Map<String, Double> heads, double classifier) { }

    private final Path from;
    private final File file;
    private final Map<String, float[]> bnStats;
    private final Map<String, Photo> photos = new HashMap<>();

    private ResumeState(Path from, File file, Map<String, float[]> bnStats) {
        this.from = from;
        this.file = file;
        this.bnStats = bnStats;
        for (Photo p : file.validation()) {
            photos.put(p.id(), p);
        }
    }

    /**
     * Reads the state a bundle carries.
     *
     * @throws IOException naming the file and the problem when it is missing, damaged or of another kind
     */
    public static ResumeState read(Path bundle) throws IOException {
        Path f = bundle.resolve(FILE);
        if (!Files.isRegularFile(f)) {
            throw new IOException(f + ": not found (only bundles written by personalise since the feature memo "
                    + "carry what a resumed run needs)");
        }
        File s;
        try {
            s = new Gson().fromJson(Files.readString(f), File.class);
        } catch (JsonParseException e) {
            throw new IOException(f + ": not readable as a resume state (" + e.getMessage() + ")", e);
        }
        if (s == null || !FORMAT.equals(s.format()) || s.version() != VERSION || s.labels() == null
                || s.labelBackboneIndex() == null || s.labelBackboneIndex().length != s.labels().size()
                || s.exits() == null || s.validation() == null) {
            throw new IOException(f + ": not a resume state this build reads (format " + FORMAT + " " + VERSION + ")");
        }
        Map<String, float[]> stats = null;
        if (s.batchNormAdapted()) {
            Path bn = bundle.resolve("batchnorm-stats.bin");
            stats = BnStats.fromBytes(Files.readAllBytes(bn));
        }
        return new ResumeState(bundle, s, stats);
    }

    /**
     * Whether a photo (its decoded, preprocessed pixels) was one of the run's training photos: figures on it are in
     * sample.
     */
    public boolean trainedOn(float[] pixels) {
        return photos.containsKey(FeatureMemo.imageKey(pixels));
    }

    /** Writes the state of a finished run into {@code dir} (atomically); nothing when it has no validation. */
    public static void write(Path dir, PersonalisationResult r) throws IOException {
        write(dir, r, null);
    }

    /** {@link #write(Path, PersonalisationResult)} with the milliseconds the run chose with ({@link Latency}). */
    public static void write(Path dir, PersonalisationResult r, Latency latency) throws IOException {
        EvalPredictions v = r.validation();
        if (v == null) {
            return;
        }
        List<Exit> exits = new ArrayList<>();
        // a head deployed as the folds' mean carries on from its weights as trained on all the photos (FoldAverage):
        // warm-started from the mean, the replay's first updates lost 5-7 points on night-owl
        for (ExitHead h : r.heads()) {
            exits.add(new Exit(h.key(), linear(h, r.trainedOnAll(h.key())), linear(h, null)));
        }
        List<Photo> photos = new ArrayList<>();
        // the final exit's own predictions: the next run averages them with its exits if that is better then
        float[][] fin = r.validationFinalAlone() != null ? r.validationFinalAlone() : v.finalExit();
        List<float[]> xs = r.data().trainImages();
        PersonalisationResult.Folds folds = r.folds();
        if (folds != null && folds.assignment().length != xs.size()) {
            folds = null;
        }
        Map<String, List<Linear>> foldWeights = null;
        if (folds != null) {
            foldWeights = new HashMap<>();
            for (Map.Entry<String, List<float[][]>> e : folds.weights().entrySet()) {
                foldWeights.put(e.getKey(), e.getValue().stream().map(w -> new Linear(w[0], w[1])).toList());
            }
        }
        for (int i = 0; i < xs.size(); i++) {
            List<float[]> row = new ArrayList<>();
            for (int e = 0; e < v.exits().size(); e++) {
                row.add(v.exit(e)[i]);
            }
            photos.add(new Photo(FeatureMemo.imageKey(xs.get(i)), row, fin[i], r.data().trainLabel.get(i),
                    folds == null ? null : folds.assignment()[i]));
        }
        ExitHead fh = r.finalHead();
        File f = new File(FORMAT, VERSION, r.backboneSha256(), r.labelSpace().names(),
                r.labelSpace().backboneIndex(), r.batchNorm().adapted(), exits,
                fh == null ? null : linear(fh, r.trainedOnAll(PersonalisationResult.FINAL_KEY)),
                fh == null ? null : linear(fh, null), true, training(r.config()),
                r.resumed() != null ? r.resumed().freshEpochs() : r.config().epochs(), foldWeights, photos,
                latency, r.refitChoice());
        AtomicFiles.writeString(dir.resolve(FILE), new Gson().toJson(f));
    }

    /**
     * The settings a run's head training depended on, besides its photos, labels and exits (the epochs are left
     * out: an update trains fewer by design). A later run with the same ones and nothing new keeps the heads.
     */
    static String training(PersonalisationConfig c) {
        return String.format(java.util.Locale.ROOT, "lr %s, unlabelled %s, pseudo-label confidence %s, "
                        + "temperature %s, teacher %s, final re-fitted %s, seed %d", c.learningRate(),
                c.unlabelledRule(), c.pseudoLabelThreshold(), c.temperature(), c.teacher(), c.refitFinal(), c.seed());
    }

    private static Linear linear(ExitHead h, float[][] trainedOnAll) {
        if (h.probePrefix() == null) {
            return null;
        }
        float[][] l = trainedOnAll != null ? trainedOnAll : h.linear();
        return new Linear(l[0], l[1]);
    }

    /** The bundle this state came from. */
    public Path from() { return from; }

    /** The milliseconds the earlier run chose its operating point with, or null (an older state). */
    public Latency latency() { return file.latency(); }

    /** The backbone weights' SHA-256 the state belongs to. */
    public String backboneSha256() { return file.backboneSha256(); }

    /** The exits of the run, as {@code stage:head} keys. */
    public List<String> exitKeys() { return file.exits().stream().map(Exit::key).toList(); }

    PersonalLabelSpace labelSpace() {
        return new PersonalLabelSpace(file.labels(), file.labelBackboneIndex());
    }

    /** The adapted BatchNorm statistics, or null when the run kept the shipped ones. */
    Map<String, float[]> bnStats() { return bnStats; }

    /** An exit's weights, or null (a head that is not pooling + linear, or an exit the run did not have). */
    float[][] exitWeights(String key) {
        for (Exit e : file.exits()) {
            if (e.key().equals(key) && e.linear() != null) {
                return new float[][] {e.linear().weight(), e.linear().bias()};
            }
        }
        return null;
    }

    /** An exit's weights as the earlier run deployed them, or null (not kept, or not a pooling + linear head). */
    float[][] deployedWeights(String key) {
        for (Exit e : file.exits()) {
            if (e.key().equals(key) && e.deployed() != null) {
                return new float[][] {e.deployed().weight(), e.deployed().bias()};
            }
        }
        return null;
    }

    /** The re-fitted final exit's weights, or null. */
    float[][] finalWeights() {
        Linear l = file.finalExit();
        return l == null ? null : new float[][] {l.weight(), l.bias()};
    }

    /** The re-fitted final exit's weights as deployed, or null. */
    float[][] finalDeployedWeights() {
        Linear l = file.finalDeployed();
        return l == null ? null : new float[][] {l.weight(), l.bias()};
    }

    /** Whether the photos' labels are kept ({@link Photo#label}); false in states written before they were. */
    boolean labelsKept() { return file.labelsKept(); }

    /** Why the earlier run re-fitted the final exit or kept the backbone's classifier, or null. */
    String refitChoice() { return file.refitChoice(); }

    /** The settings the earlier run's heads were trained with ({@link #training}), or null in older states. */
    String training() { return file.training(); }

    /** The epochs heads that start fresh train for: the first run's of this line of runs. */
    int freshEpochs() {
        return file.freshEpochs() > 0 ? file.freshEpochs() : PersonalisationConfig.DEFAULT_EPOCHS;
    }

    /**
     * A fold's weights of an exit ({@code stage:head}) or of the final exit ({@code final}), or null when the state
     * has no folds for it.
     */
    float[][] foldWeights(String key, int fold) {
        List<Linear> l = file.folds() == null ? null : file.folds().get(key);
        return l == null || fold >= l.size() ? null : new float[][] {l.get(fold).weight(), l.get(fold).bias()};
    }

    /** How many folds the state carries (0: none). */
    int foldCount() {
        return file.folds() == null || file.folds().isEmpty() ? 0
                : file.folds().values().stream().mapToInt(List::size).min().orElse(0);
    }

    /** How many training photos the earlier run had. */
    int photoCount() { return file.validation().size(); }

    /** How many of them it had a label for ({@link #labelsKept} states only). */
    int labelledCount() { return (int) file.validation().stream().filter(p -> p.label() != null).count(); }

    /** A training photo's held-out predictions, or null for a photo the run did not have. */
    Photo photo(String id) { return photos.get(id); }
}
