package org.persephonee.core.personalise;

import ai.djl.ndarray.NDManager;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.engine.EngineWorkers;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BooleanSupplier;

/**
 * The BatchNorm phase of a personalisation: keep the backbone's shipped statistics, re-estimate them on the
 * person's images (AdaBN), or, in auto mode, let a criterion decide (accuracy on the labelled training images
 * when there are at least 5, else the teacher's mutual information on a seeded sample). Leaves the backbone in
 * the chosen state. A phase of {@link PersonalisationJob}, with its own tests.
 */
final class BatchNormPhase {
    /** Most images the keep-or-adapt criterion runs the backbone on (all labelled ones first). */
    static final int CRITERION_IMAGES = 256;

    private final Backbone backbone;
    private final PersonalisationConfig config;

    BatchNormPhase(Backbone backbone, PersonalisationConfig config) {
        this.backbone = backbone;
        this.config = config;
    }

    /**
     * Decides whether to adapt BatchNorm statistics; leaves the backbone in the chosen state.
     * Criterion with labels: accuracy of the final exit (restricted to the labelled classes) on the
     * labelled training images; without: its mean top-1 confidence on the training images.
     */
    BnDecision decide(PreparedData data, Map<String, float[]> original, BooleanSupplier cancelled) {
        if (config.bnMode() == BnMode.KEEP) {
            return new BnDecision(false, "keep (as configured)", Double.NaN, Double.NaN, null);
        }
        if (!backbone.supportsBatchNormAdaptation()) {
            return new BnDecision(false, "keep: " + (config.bnMode() == BnMode.ADAPT ? "adaptation was asked for, but " : "")
                    + "TorchScript stages do not expose their BatchNorm statistics", Double.NaN, Double.NaN, null);
        }
        // the criterion looks at the labelled images when there are enough, else (or on a tie) at a seeded
        // sample of all training images, labelled first (at most CRITERION_IMAGES): only what it reads is run
        List<Integer> rows = new ArrayList<>();
        List<Integer> others = new ArrayList<>();
        for (int i = 0; i < data.trainSize(); i++) {
            (data.trainLabel.get(i) != null ? rows : others).add(i);
        }
        Random pick = new Random(config.seed() + 31);
        java.util.Collections.shuffle(rows, pick);
        java.util.Collections.shuffle(others, pick);
        int labelledRows = Math.min(rows.size(), CRITERION_IMAGES);
        rows.addAll(others);
        rows = rows.subList(0, Math.min(rows.size(), CRITERION_IMAGES));
        List<float[]> sampleX = new ArrayList<>();
        List<String> sampleLabels = new ArrayList<>();
        for (int i : rows) {
            sampleX.add(data.trainX.get(i));
            sampleLabels.add(data.trainLabel.get(i));
        }
        boolean useLabels = data.labelledUsed() >= 5;
        int first = useLabels ? labelledRows : sampleX.size();
        List<float[]> firstX = sampleX.subList(0, first);
        List<float[]> restX = sampleX.subList(first, sampleX.size());
        float[][] keep = config.bnMode() == BnMode.AUTO ? logits(backbone, firstX, config.batchSize(), cancelled) : null;
        BnStats.adapt(backbone, data.trainX, config.seed());
        Map<String, float[]> adapted = BnStats.snapshot(backbone);
        if (config.bnMode() == BnMode.ADAPT) {
            return new BnDecision(true, "adapt (as configured)", Double.NaN, Double.NaN, adapted);
        }
        float[][] adapt = logits(backbone, firstX, config.batchSize(), cancelled);
        List<String> firstLabels = sampleLabels.subList(0, first);
        double before = useLabels ? labelledAccuracy(keep, firstLabels) : mutualInformation(keep);
        double after = useLabels ? labelledAccuracy(adapt, firstLabels) : mutualInformation(adapt);
        String tie = "";
        if (useLabels && after == before) {
            // a handful of labels often ties (tilted-phone, 2 per class: 0.500 both ways); let the unlabelled decide
            tie = String.format(java.util.Locale.ROOT, "labelled-image accuracy tied at %.3f, ", before);
            useLabels = false;
            float[][] adaptRest = logits(backbone, restX, config.batchSize(), cancelled);
            BnStats.restore(backbone, original);
            float[][] keepRest = logits(backbone, restX, config.batchSize(), cancelled);
            BnStats.restore(backbone, adapted);
            before = mutualInformation(org.persephonee.core.util.Vectors.concatRows(keep, keepRest));
            after = mutualInformation(org.persephonee.core.util.Vectors.concatRows(adapt, adaptRest));
        }
        boolean choose = after > before;
        String why = String.format(java.util.Locale.ROOT, "auto: %s%s %.3f with the shipped statistics, %.3f adapted",
                tie, useLabels ? "labelled-image accuracy" : "teacher information (nats)", before, after);
        if (!choose) {
            BnStats.restore(backbone, original);
        }
        return new BnDecision(choose, why, before, after, choose ? adapted : null);
    }

    private double labelledAccuracy(float[][] logits, List<String> labels) {
        List<String> names = backbone.classNames();
        java.util.Set<Integer> classes = new java.util.TreeSet<>();
        for (String l : labels) {
            if (l != null && names.contains(l)) {
                classes.add(names.indexOf(l));
            }
        }
        int n = 0;
        int c = 0;
        for (int i = 0; i < logits.length; i++) {
            String l = labels.get(i);
            if (l == null || !names.contains(l)) {
                continue;
            }
            int best = -1;
            for (int k : classes) {
                if (best < 0 || logits[i][k] > logits[i][best]) {
                    best = k;
                }
            }
            n++;
            if (names.get(best).equals(l)) {
                c++;
            }
        }
        return n == 0 ? 0 : c / (double) n;
    }

    /**
     * Label-free quality of a teacher: the mutual information between images and its predictions,
     * H(mean p) - mean H(p) (Krause et al. 2010; as in SHOT, Liang et al. 2020). Confident and diverse
     * predictions score high; a teacher that calls every dim image "Bag" scores near zero, however sure.
     */
    static double mutualInformation(float[][] logits) {
        if (logits.length == 0) {
            return 0;
        }
        int k = logits[0].length;
        double[] mean = new double[k];
        double condEntropy = 0;
        for (float[] l : logits) {
            float[] p = org.persephonee.core.util.Vectors.softmax(l, 1f);
            for (int c = 0; c < k; c++) {
                mean[c] += p[c];
                if (p[c] > 0) {
                    condEntropy -= p[c] * Math.log(p[c]);
                }
            }
        }
        double h = 0;
        for (int c = 0; c < k; c++) {
            double m = mean[c] / logits.length;
            if (m > 0) {
                h -= m * Math.log(m);
            }
        }
        return h - condEntropy / logits.length;
    }

    /**
     * Inference-mode logits of the whole backbone for some images, the batches on the engine's threads as that many
     * threads of one engine thread each ({@link EngineWorkers}).
     */
    static float[][] logits(Backbone backbone, List<float[]> xs, int batch, BooleanSupplier cancelled) {
        int n = xs.size();
        int size = backbone.input().size();
        int k = backbone.classNames().size();
        float[][] out = new float[n][];
        EngineWorkers.batches("persephonee-backbone-pass", 0, n, batch, cancelled, (s, b) -> {
            float[] x = new float[b * size];
            for (int i = 0; i < b; i++) {
                System.arraycopy(xs.get(s + i), 0, x, i * size, size);
            }
            try (NDManager m = backbone.manager().newSubManager()) {
                float[] lg = backbone.logits(m.create(x, backbone.batchShape(b))).toFloatArray();
                for (int i = 0; i < b; i++) {
                    out[s + i] = Arrays.copyOfRange(lg, i * k, (i + 1) * k);
                }
            }
        });
        return out;
    }
}
