package org.persephonee.core.backbone;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The contents of {@code backbone.json}: architecture, input spec, class names and provenance.
 *
 * <p>Format (version {@value #FORMAT_VERSION}):
 * <pre>
 * {
 *   "format": "persephonee-backbone", "formatVersion": 1,
 *   "id": "fmnist-resnet-s", "name": "...", "description": "...",
 *   "input": {"channels": 1, "height": 28, "width": 28, "mean": [0.286], "std": [0.353]},
 *   "classes": ["T-shirt/top", ...],
 *   "stages": [{"name": "stem", "layers": [{"type": "CONV", "out": 16, "kernel": 3, "stride": 1, "pad": 1}, ...]}, ...],
 *   "classifier": [{"type": "GAP"}, {"type": "FLATTEN"}, {"type": "LINEAR", "out": 10}],
 *   "parameters": {"file": "backbone.params", "sha256": "...", "bytes": 123},
 *   "training": {...free-form provenance...}
 * }
 * </pre>
 */
public final class BackboneSpec {
    public static final String FORMAT = "persephonee-backbone";
    public static final int FORMAT_VERSION = 1;

    /** Input block of the JSON. */
    public static final class Input {
        public int channels;
        public int height;
        public int width;
        public float[] mean;
        public float[] std;
        /** {@code pad} (default) or {@code center-crop}. */
        public String resize;
        /** For {@code center-crop}: the shorter side before cropping. */
        public Integer resizeTo;

        public InputSpec toInputSpec() {
            return new InputSpec(channels, height, width, mean, std, InputSpec.Resize.parse(resize),
                    resizeTo == null ? 0 : resizeTo);
        }

        public static Input of(InputSpec s) {
            Input i = new Input();
            i.channels = s.channels();
            i.height = s.height();
            i.width = s.width();
            i.mean = s.mean();
            i.std = s.std();
            if (s.resize() != InputSpec.Resize.PAD) {
                i.resize = s.resize().id();
                i.resizeTo = s.resizeTo();
            }
            return i;
        }
    }

    /** Parameter file block of the JSON. */
    public static final class Parameters {
        public String file;
        public String sha256;
        public long bytes;
    }

    public String format = FORMAT;
    public int formatVersion = FORMAT_VERSION;
    public String id;
    public String name;
    public String description;
    public Input input;
    public List<String> classes = new ArrayList<>();
    public List<StageSpec> stages = new ArrayList<>();
    public List<LayerSpec> classifier = new ArrayList<>();
    public Parameters parameters;
    public Map<String, Object> training = new LinkedHashMap<>();

    /**
     * Checks what both backbone formats share: format version, id, input and class names.
     *
     * @return the input spec
     * @throws IllegalArgumentException naming the first problem found
     */
    static InputSpec validateHeader(int formatVersion, int supported, String id, Input input, List<String> classes) {
        if (formatVersion != supported) {
            throw new IllegalArgumentException("'formatVersion' " + formatVersion + " is not supported (this build reads "
                    + supported + ")");
        }
        if (id == null || id.isBlank()) {
            throw new IllegalArgumentException("'id' is missing");
        }
        if (input == null) {
            throw new IllegalArgumentException("'input' is missing");
        }
        InputSpec in = input.toInputSpec();
        if (classes == null || classes.size() < 2) {
            throw new IllegalArgumentException("'classes' needs at least two class names");
        }
        if (classes.stream().anyMatch(c -> c == null || c.isBlank())) {
            throw new IllegalArgumentException("'classes' has an empty class name");
        }
        return in;
    }

    /**
     * Validates the spec and computes every stage's shape, so that a broken description fails early.
     *
     * @throws IllegalArgumentException naming the first problem found
     */
    public void validate() {
        if (!FORMAT.equals(format)) {
            throw new IllegalArgumentException("'format' is '" + format + "', expected '" + FORMAT + "'");
        }
        InputSpec in = validateHeader(formatVersion, FORMAT_VERSION, id, input, classes);
        if (stages == null || stages.isEmpty()) {
            throw new IllegalArgumentException("'stages' is empty: a backbone needs at least one stage");
        }
        java.util.Set<String> seen = new java.util.HashSet<>();
        long[] shape = in.shape();
        for (int i = 0; i < stages.size(); i++) {
            StageSpec s = stages.get(i);
            if (s == null) {
                throw new IllegalArgumentException("stage " + i + " is empty");
            }
            s.validate(i);
            if (!seen.add(s.name())) {
                throw new IllegalArgumentException("stage name '" + s.name() + "' is used twice");
            }
            try {
                shape = LayerSpec.chainShape(s.layers(), shape);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("stage '" + s.name() + "': " + e.getMessage(), e);
            }
        }
        if (classifier == null || classifier.isEmpty()) {
            throw new IllegalArgumentException("'classifier' is empty");
        }
        LayerValidation.validateAll(classifier, "classifier layer");
        long[] out;
        try {
            out = LayerSpec.chainShape(classifier, shape);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("classifier: " + e.getMessage(), e);
        }
        if (out.length != 1 || out[0] != classes.size()) {
            throw new IllegalArgumentException("classifier outputs " + java.util.Arrays.toString(out) + " but there are "
                    + classes.size() + " classes");
        }
    }
}
