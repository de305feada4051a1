package org.persephonee.core.export;

import org.persephonee.core.backbone.BackboneSpec;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The contents of a bundle's {@code exit-config.json}: which backbone (id and SHA-256 of its weights),
 * the input spec, the personal label space, the selected exits with their head, weights file and
 * threshold, the final exit, the expected accuracy/latency/MACs and the provenance of the run.
 */
public final class ExitConfig {
    public static final String SCHEMA = "persephonee-exit-config";
    public static final int SCHEMA_VERSION = 1;

    /** Backbone reference. */
    public static final class BackboneRef {
        public String id;
        public String sha256;
        /** Folder inside the bundle holding a copy of the backbone. */
        public String path;
    }

    /** Head description. */
    public static final class Head {
        public String type;
        public int channels;
        public int convLayers;
        public int hidden;
    }

    /** One selected exit. */
    public static final class Exit {
        public String stage;
        public String headId;
        public Head head;
        public String weights;
        public String sha256;
        public double threshold;
        public long macs;
        public double ms;
    }

    /** The final exit. */
    public static final class Final {
        /** "refit" (a re-fitted classifier on the last stage) or "backbone" (its classifier, restricted). */
        public String kind;
        public String stage;
        public Head head;
        public String weights;
        public String sha256;
        /**
         * The backbone's last stages, in order, that the final exit runs as a re-trained copy (the cascade's
         * exits all sit before them); null or empty when it runs the backbone's own stages.
         */
        public List<String> retrainedStages;
        /** The copy's weights and BatchNorm statistics (DJL parameter format), when {@link #retrainedStages} is set. */
        public String retrainedWeights;
        public String retrainedSha256;
    }

    /** BatchNorm statistics. */
    public static final class BatchNorm {
        public boolean adapted;
        public String file;
        public String sha256;
        public String reason;
    }

    public String schema = SCHEMA;
    public int schemaVersion = SCHEMA_VERSION;
    public BackboneRef backbone;
    public BackboneSpec.Input input;
    public List<String> labels = new ArrayList<>();
    /** Per label, its index among the backbone's classes or -1. */
    public int[] labelBackboneIndex;
    public String confidence;
    public BatchNorm batchNorm;
    public List<Exit> exits = new ArrayList<>();
    public Final finalExit;
    public Map<String, Object> expected = new LinkedHashMap<>();
    public Map<String, Object> provenance = new LinkedHashMap<>();
}
