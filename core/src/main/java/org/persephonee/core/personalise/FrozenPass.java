package org.persephonee.core.personalise;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.personalise.PersonalisationJob.Listener;
import org.persephonee.core.personalise.PersonalisationJob.Phase;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * A run's one frozen-backbone pass: every placed exit's cached input, the re-fitted final exit's and the first
 * re-trained stage's, through the {@link FeatureMemo} when the config names one (photos seen before with the same
 * weights and statistics are read, not run); what went wrong with the memo is noted, never fatal.
 */
final class FrozenPass {
    private final Backbone backbone;
    private final PersonalisationConfig config;
    private final List<String> memoNotes = new ArrayList<>();

    FrozenPass(Backbone backbone, PersonalisationConfig config) {
        this.backbone = backbone;
        this.config = config;
    }

    /**
     * The one frozen pass: the training images first (the time they take is the training cost, the rest is
     * evaluation), caching what every exit reads, the re-fitted final exit's input ({@code refitStage}, null
     * for none) and the raw input of the first re-trained stage ({@code retrainInput}, null for none).
     */
    FeatureCache run(PreparedData data, String refitStage, String retrainInput, Listener listener,
                                       BooleanSupplier cancelled) throws IOException {
        listener.onPhase(Phase.CACHE, "Running the frozen backbone once over " + (data.trainSize()
                + data.evalSize()) + " images");
        List<float[]> all = new ArrayList<>(data.trainX);
        all.addAll(data.evalX);
        List<FeatureCache.Request> requests = new ArrayList<>();
        for (ExitPlacement p : config.placements()) {
            requests.add(ExitTrainer.request(backbone, p));
        }
        String last = backbone.stages().get(backbone.stages().size() - 1).name();
        if (refitStage != null || config.featureMemo() != null && config.refitFinal()) {
            // with a memo, a run without labels keeps the final exit's input too (a few floats per photo): the next
            // run, once the person has labelled some photos, re-fits the final exit on it, and would otherwise send
            // every photo through the backbone again
            requests.add(ExitTrainer.request(backbone, new ExitPlacement(refitStage != null ? refitStage : last,
                    PersonalisationJob.FINAL_HEAD)));
        }
        if (retrainInput != null) {
            // the input of the first re-trained stage, raw: the copy trains on it
            requests.add(FeatureCache.Request.raw(retrainInput));
        }
        FeatureMemo memo = null;
        if (config.featureMemo() != null) {
            try {
                memo = FeatureMemo.open(config.featureMemo(), backbone, FeatureMemo.DEFAULT_CAP_BYTES);
            } catch (IOException | RuntimeException e) {
                memoNotes.add("feature memo " + config.featureMemo() + " not used: " + e.getMessage());
            }
        }
        try {
            FeatureCache cache = FeatureCache.build(backbone, all, requests, config.cacheBudgetBytes(),
                    config.spillDir(), config.batchSize(), data.trainSize(), memo,
                    (f, eta) -> listener.onProgress(Phase.CACHE, f, eta), cancelled);
            if (memo != null) {
                memoNotes.addAll(memo.notes());
                if (cache.memoNote() != null) {
                    memoNotes.add(cache.memoNote());
                }
            }
            return cache;
        } finally {
            if (memo != null) {
                memo.close();
            }
        }
    }

    /** What went wrong with the feature memo (never fatal), empty when nothing did. */
    List<String> memoNotes() { return List.copyOf(memoNotes); }
}
