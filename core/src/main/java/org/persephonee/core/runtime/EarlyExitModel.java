package org.persephonee.core.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.Stage;
import org.persephonee.core.data.ImageDecodeException;
import org.persephonee.core.data.ImageDecoder;
import org.persephonee.core.eval.Confidence;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.export.BundleException;
import org.persephonee.core.export.ExitConfig;
import org.persephonee.core.personalise.FinalEnsemble;
import org.persephonee.core.personalise.PersonalLabelSpace;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Classifies images with an exported bundle: runs the backbone stage by stage at batch 1 and returns at
 * the first selected exit whose confidence reaches its threshold, else at the final exit.
 */
public final class EarlyExitModel implements AutoCloseable {

    /**
     * One classification.
     *
     * @param label predicted class name
     * @param confidence confidence at the exit taken
     * @param exit stage of the exit taken, or "final"
     * @param exitIndex position in the cascade, or the number of exits for the final exit
     * @param millis wall time of this classification
     */
    public record Prediction(String label, double confidence, String exit, int exitIndex, double millis) { }

    private final ExitConfig config;
    private final Backbone backbone;
    private final PersonalLabelSpace labels;
    private final List<ExitHead> heads = new ArrayList<>();
    private final List<Integer> headStage = new ArrayList<>();
    private final double[] thresholds;
    private final ExitHead finalHead;
    private final org.persephonee.core.personalise.RetrainedStages retrained;
    private final int firstRetrained;
    private final Confidence confidence;
    /** Heads averaged with the final exit ({@link ExitConfig.Final#ensemble}), in stage order; maybe empty. */
    private final List<ExitHead> ensemble;
    private final int[] ensembleStage;

    EarlyExitModel(ExitConfig config, Backbone backbone, List<ExitHead> heads, ExitHead finalHead,
                           org.persephonee.core.personalise.RetrainedStages retrained, List<ExitHead> ensemble) {
        this.config = config;
        this.backbone = backbone;
        this.labels = new PersonalLabelSpace(config.labels, config.labelBackboneIndex);
        this.heads.addAll(heads);
        for (ExitHead h : heads) {
            headStage.add(backbone.stage(h.stage()).index());
        }
        this.thresholds = config.exits.stream().mapToDouble(e -> e.threshold).toArray();
        this.finalHead = finalHead;
        this.retrained = retrained;
        this.firstRetrained = retrained == null ? Integer.MAX_VALUE
                : backbone.stages().size() - retrained.stages().size();
        this.confidence = Confidence.valueOf(config.confidence.toUpperCase(Locale.ROOT));
        this.ensemble = List.copyOf(ensemble);
        this.ensembleStage = ensemble.stream().mapToInt(h -> backbone.stage(h.stage()).index()).toArray();
    }

    /** Loads a bundle with the backbone copy it carries. */
    public static EarlyExitModel load(Path bundle) throws BundleException {
        return load(bundle, null);
    }

    /**
     * Loads a bundle.
     *
     * @param backboneDir a backbone folder to use instead of the bundle's copy, or null
     * @throws BundleException naming the file when the schema, backbone hash or a weights file does not match
     */
    public static EarlyExitModel load(Path bundle, Path backboneDir) throws BundleException {
        return BundleReader.load(bundle, backboneDir);
    }

    public ExitConfig config() { return config; }

    public Backbone backbone() { return backbone; }

    public List<String> labels() { return labels.names(); }

    /** Stages of the selected exits, in order. */
    public List<String> exitStages() { return heads.stream().map(ExitHead::stage).toList(); }

    /** The selected exits' heads, in stage order (for exporters; owned by this model). */
    public List<ExitHead> heads() { return List.copyOf(heads); }

    /** The re-fitted final exit's head, or null when the final exit is the backbone's classifier. */
    public ExitHead finalHead() { return finalHead; }

    /** The heads averaged with the final exit, in stage order (empty: the final exit alone; owned by this model). */
    public List<ExitHead> ensembleHeads() { return ensemble; }

    /** True when the final exit runs a re-trained copy of the last stages. */
    public boolean hasRetrainedStages() { return retrained != null; }

    /** How confidence is measured at an exit. */
    public Confidence confidence() { return confidence; }

    /** Current thresholds (a copy). */
    public double[] thresholds() { return thresholds.clone(); }

    /** Replaces every exit's threshold (values above 1 disable early exits). */
    public void setThresholds(double t) { Arrays.fill(thresholds, t); }

    /** Classifies an image file. */
    public Prediction classify(Path image) throws ImageDecodeException {
        return classify(ImageDecoder.decode(image, backbone.input()));
    }

    /**
     * Classifies one normalised image.
     *
     * @param x {@code C*H*W} normalised floats
     */
    public Prediction classify(float[] x) {
        long t0 = System.nanoTime();
        try (NDManager m = backbone.manager().newSubManager()) {
            ParameterStore ps = new ParameterStore(m, false);
            NDList cur = new NDList(m.create(x, backbone.batchShape(1)));
            int next = 0;
            NDArray[] kept = new NDArray[ensemble.size()];
            for (Stage s : backbone.stages()) {
                cur = forwardStage(s, ps, cur);
                keep(s, cur, kept);
                while (next < heads.size() && headStage.get(next) == s.index()) {
                    float[] p = heads.get(next).forward(cur.singletonOrThrow(), false).softmax(1).toFloatArray();
                    double c = confidence.of(p);
                    if (c >= thresholds[next]) {
                        int a = org.persephonee.core.util.Vectors.argmax(p);
                        return new Prediction(labels.names().get(a), c, s.name(), next, (System.nanoTime() - t0) / 1e6);
                    }
                    next++;
                }
            }
            float[] p;
            if (finalHead != null) {
                p = finalHead.forward(cur.singletonOrThrow(), false).softmax(1).toFloatArray();
            } else {
                float[] logits = backbone.classifier().forward(ps, cur, false).singletonOrThrow().toFloatArray();
                p = new float[labels.size()];
                labels.restrictedSoftmax(logits, 0, 1f, p);
            }
            p = withEnsemble(p, kept, null);
            int a = org.persephonee.core.util.Vectors.argmax(p);
            return new Prediction(labels.names().get(a), confidence.of(p), "final", heads.size(),
                    (System.nanoTime() - t0) / 1e6);
        }
    }

    /**
     * Every selected exit's probabilities over the personal classes, then the final exit's (averaged with the
     * ensemble heads' when it has some), then each ensemble head's own, for one normalised image, running the whole
     * network (what an exporter compares with).
     */
    public float[][] allProbabilities(float[] x) {
        return allOutputs(x, true);
    }

    /**
     * Every selected exit's raw outputs, then the final block's (the re-fitted head's over the personal classes, or
     * the backbone classifier's over all its classes), then each ensemble head's, for one normalised image: what an
     * exporter compares.
     */
    public float[][] allLogits(float[] x) {
        return allOutputs(x, false);
    }

    /** Keeps a stage's output where an ensemble head reads it (its head runs only if the image reaches the end). */
    private void keep(Stage s, NDList cur, NDArray[] kept) {
        for (int k = 0; k < kept.length; k++) {
            if (ensembleStage[k] == s.index()) {
                kept[k] = cur.singletonOrThrow();
            }
        }
    }

    /**
     * The final exit's probabilities averaged with the ensemble heads' ({@link FinalEnsemble#average}); {@code p}
     * itself when there is no ensemble. Each head's own probabilities go to {@code members} when it is not null.
     */
    private float[] withEnsemble(float[] p, NDArray[] kept, float[][] members) {
        if (ensemble.isEmpty()) {
            return p;
        }
        float[][] own = members != null ? members : new float[kept.length][];
        for (int k = 0; k < kept.length; k++) {
            own[k] = ensemble.get(k).forward(kept[k], false).softmax(1).toFloatArray();
        }
        return FinalEnsemble.average(p, own);
    }

    /** One stage in inference mode: the re-trained copy's where the final exit runs one. */
    private NDList forwardStage(Stage s, ParameterStore ps, NDList in) {
        return s.index() >= firstRetrained
                ? retrained.block().getChildren().values().get(s.index() - firstRetrained).forward(ps, in, false)
                : s.block().forward(ps, in, false);
    }

    private float[][] allOutputs(float[] x, boolean probabilities) {
        float[][] out = new float[heads.size() + 1 + ensemble.size()][];
        try (NDManager m = backbone.manager().newSubManager()) {
            ParameterStore ps = new ParameterStore(m, false);
            NDList cur = new NDList(m.create(x, backbone.batchShape(1)));
            int next = 0;
            NDArray[] kept = new NDArray[ensemble.size()];
            for (Stage s : backbone.stages()) {
                cur = forwardStage(s, ps, cur);
                keep(s, cur, kept);
                while (next < heads.size() && headStage.get(next) == s.index()) {
                    NDArray z = heads.get(next).forward(cur.singletonOrThrow(), false);
                    out[next] = (probabilities ? z.softmax(1) : z).toFloatArray();
                    next++;
                }
            }
            if (finalHead != null) {
                NDArray z = finalHead.forward(cur.singletonOrThrow(), false);
                out[heads.size()] = (probabilities ? z.softmax(1) : z).toFloatArray();
            } else {
                float[] logits = backbone.classifier().forward(ps, cur, false).singletonOrThrow().toFloatArray();
                if (probabilities) {
                    out[heads.size()] = new float[labels.size()];
                    labels.restrictedSoftmax(logits, 0, 1f, out[heads.size()]);
                } else {
                    out[heads.size()] = logits;
                }
            }
            float[][] members = new float[ensemble.size()][];
            if (probabilities) {
                out[heads.size()] = withEnsemble(out[heads.size()], kept, members);
            } else {
                for (int k = 0; k < kept.length; k++) {
                    members[k] = ensemble.get(k).forward(kept[k], false).toFloatArray();
                }
            }
            System.arraycopy(members, 0, out, heads.size() + 1, members.length);
        }
        return out;
    }

    @Override
    public void close() {
        heads.forEach(ExitHead::close);
        ensemble.forEach(ExitHead::close);
        if (finalHead != null) {
            finalHead.close();
        }
        if (retrained != null) {
            retrained.close();
        }
        backbone.close();
    }
}
