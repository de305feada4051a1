package org.persephonee.core.export;

import com.google.gson.annotations.SerializedName;
import org.persephonee.core.backbone.BackboneSpec;
import org.persephonee.core.eval.CascadeResult;
import org.persephonee.core.eval.OperatingPoint;

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
        /**
         * Exits whose probabilities are averaged with the final exit's (the final exit's first, then these in stage
         * order, divided by their count plus one), computed on the way as an image passes their stages, whether or
         * not they are also early exits of the cascade; null or empty for the final exit alone.
         */
        public List<EnsembleHead> ensemble;
    }

    /** A head averaged into the final exit ({@link Final#ensemble}). */
    public static final class EnsembleHead {
        public String stage;
        public String headId;
        public Head head;
        public String weights;
        public String sha256;
        public long macs;
    }

    /** BatchNorm statistics. */
    public static final class BatchNorm {
        public boolean adapted;
        public String file;
        public String sha256;
        public String reason;
    }

    /**
     * What the exported cascade is expected to do: its accuracy, latency and MACs per image, how it compares with
     * the personalised final exit, the share of images leaving at each exit, and what the figures were measured on.
     * One definition for the CLI's and the lab's exports (the lab's used to lack the last four fields).
     */
    public static final class Expected {
        public double accuracy;
        @SerializedName("latency_ms")
        public double latencyMs;
        public double macs;
        public double speedup;
        @SerializedName("mac_speedup")
        public double macSpeedup;
        @SerializedName("final_accuracy")
        public double finalAccuracy;
        @SerializedName("final_latency_ms")
        public double finalLatencyMs;
        @SerializedName("max_drop_points")
        public double maxDropPoints;
        /** Per exit stage (in cascade order) and {@code final}, the share of images leaving there. */
        @SerializedName("exit_share")
        public Map<String, Double> exitShare;
        /** Which images the figures come from (the run's own description, e.g. its test images). */
        @SerializedName("evaluated_on")
        public String evaluatedOn;
        /** Where the latencies come from (measured on this machine, or a cost model). */
        @SerializedName("latency_source")
        public String latencySource;

        /**
         * The figures of an operating point.
         *
         * @param choice the cascade and the final exit it is compared with
         * @param exitStages the stage of each of the cascade's exits, in cascade order
         * @param evaluatedOn which images the figures come from
         * @param latencySource where the latencies come from
         */
        public static Expected of(OperatingPoint.Choice choice, List<String> exitStages, String evaluatedOn,
                                  String latencySource) {
            CascadeResult c = choice.cascade();
            if (exitStages.size() != c.exits().length) {
                throw new IllegalArgumentException(exitStages.size() + " stages for " + c.exits().length + " exits");
            }
            Expected e = new Expected();
            e.accuracy = c.accuracy();
            e.latencyMs = c.meanMs();
            e.macs = c.meanMacs();
            e.speedup = choice.speedup();
            e.macSpeedup = choice.macSpeedup();
            e.finalAccuracy = choice.finalAccuracy();
            e.finalLatencyMs = choice.finalMs();
            e.maxDropPoints = choice.maxDrop();
            e.exitShare = new LinkedHashMap<>();
            for (int p = 0; p < exitStages.size(); p++) {
                e.exitShare.put(exitStages.get(p), c.share()[p]);
            }
            e.exitShare.put("final", c.share()[c.share().length - 1]);
            e.evaluatedOn = evaluatedOn;
            e.latencySource = latencySource;
            return e;
        }
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
    public Expected expected = new Expected();
    /**
     * How the run was made (counts, label regime, its settings and seed, the backbone folder), as the run recorded
     * it. Kept as JSON: a copy of a bundle (the lab's export of a kept run) then writes it back exactly (read into a
     * map, its whole numbers came back as 64.0).
     */
    public com.google.gson.JsonObject provenance = new com.google.gson.JsonObject();
}
