package org.persephonee.core.backbone;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@code backbone.json} of a TorchScript stage bundle, as written by {@code tools/export-backbone.py}:
 * one TorchScript file per stage plus one for the final classifier, each with its per-example output
 * shape, MACs, parameters and SHA-256.
 *
 * <pre>
 * {
 *   "format": "persephonee-torchscript-stages", "formatVersion": 1,
 *   "id": "...", "name": "...", "description": "...",
 *   "input": {"channels": 3, "height": 224, "width": 224, "mean": [...], "std": [...],
 *             "resize": "center-crop", "resizeTo": 256},
 *   "classes": [...],
 *   "stages": [{"name": "stem", "file": "stages/00-stem.pt", "sha256": "...", "bytes": 123,
 *               "outputShape": [64, 56, 56], "macs": 118013952, "params": 9536, "description": "..."}, ...],
 *   "classifier": {same fields, "outputShape": [classes]},
 *   "reference": {"input": "reference-input.f32", "output": "reference-output.f32", "batch": 2, ...},
 *   "producer": {...free-form provenance...}
 * }
 * </pre>
 */
public final class StageBundleSpec {
    public static final String FORMAT = "persephonee-torchscript-stages";
    public static final int FORMAT_VERSION = 1;

    /** One TorchScript file: a stage or the classifier. */
    public static final class Entry {
        public String name;
        public String file;
        public String sha256;
        public long bytes;
        public long[] outputShape;
        public long macs;
        public long params;
        public String description;
    }

    /** Input and expected output of the whole model, written by the exporter, as raw little-endian floats. */
    public static final class Reference {
        public String input;
        public String output;
        public int batch;
        public long seed;
        public double maxAbsDiffPyTorch;
        /** Largest |logit| of the reference output (the exporter's tolerance is relative to it). */
        public double maxAbsOutput;
    }

    public String format = FORMAT;
    public int formatVersion = FORMAT_VERSION;
    public String id;
    public String name;
    public String description;
    public BackboneSpec.Input input;
    public List<String> classes = new ArrayList<>();
    public List<Entry> stages = new ArrayList<>();
    public Entry classifier;
    public Reference reference;
    public Map<String, Object> producer = new LinkedHashMap<>();

    /** Every entry: the stages in order, then the classifier. */
    public List<Entry> entries() {
        List<Entry> all = new ArrayList<>(stages);
        all.add(classifier);
        return all;
    }

    /**
     * Checks what can be checked without loading the files.
     *
     * @throws IllegalArgumentException naming the first problem (and the stage it is in)
     */
    public void validate() {
        BackboneSpec.validateHeader(formatVersion, FORMAT_VERSION, id, input, classes);
        if (stages == null || stages.isEmpty()) {
            throw new IllegalArgumentException("'stages' is empty: a backbone needs at least one stage");
        }
        if (classifier == null) {
            throw new IllegalArgumentException("'classifier' is missing: which file is the final classifier?");
        }
        Set<String> names = new HashSet<>();
        Set<String> files = new HashSet<>();
        for (int i = 0; i < stages.size() + 1; i++) {
            Entry e = i < stages.size() ? stages.get(i) : classifier;
            String what = i < stages.size() ? "stage " + i : "the classifier";
            if (e == null) {
                throw new IllegalArgumentException(what + " is empty");
            }
            if (e.name == null || e.name.isBlank()) {
                throw new IllegalArgumentException(what + " has no name");
            }
            String label = i < stages.size() ? "stage '" + e.name + "'" : "classifier '" + e.name + "'";
            if (i < stages.size() && !names.add(e.name)) {
                throw new IllegalArgumentException("stage name '" + e.name + "' is used twice");
            }
            if (e.file == null || e.file.isBlank()) {
                throw new IllegalArgumentException(label + " has no 'file'");
            }
            if (!files.add(e.file)) {
                throw new IllegalArgumentException(label + ": file " + e.file + " is used twice");
            }
            if (e.outputShape == null || e.outputShape.length == 0 || Arrays.stream(e.outputShape).anyMatch(d -> d <= 0)) {
                throw new IllegalArgumentException(label + " has no valid 'outputShape'");
            }
            if (i < stages.size() && e.outputShape.length != 3) {
                throw new IllegalArgumentException(label + ": 'outputShape' " + Arrays.toString(e.outputShape)
                        + " is not (channels, height, width): exits attach to feature maps");
            }
            if (e.macs < 0 || e.params < 0) {
                throw new IllegalArgumentException(label + ": negative 'macs' or 'params'");
            }
            if (e.sha256 == null || !e.sha256.matches("[0-9a-fA-F]{64}")) {
                throw new IllegalArgumentException(label + " has no valid 'sha256': every file of a stage bundle is "
                        + "checked against the hash its exporter recorded");
            }
        }
        if (reference == null) {
            throw new IllegalArgumentException("no 'reference': a stage bundle carries the exporter's input and "
                    + "PyTorch's output, and every load checks that these stages reproduce it");
        }
        if (reference != null) {
            if (reference.input == null || reference.output == null || reference.batch < 1) {
                throw new IllegalArgumentException("'reference' needs 'input', 'output' and a 'batch' of at least 1");
            }
            for (String f : new String[] {reference.input, reference.output}) {
                if (!isInside(f)) {
                    throw new IllegalArgumentException("'reference' file " + f + " points outside the folder");
                }
            }
        }
        for (Entry e : entries()) {
            if (!isInside(e.file)) {
                throw new IllegalArgumentException((e == classifier ? "classifier '" : "stage '") + e.name
                        + "': file " + e.file + " points outside the folder");
            }
        }
        if (classifier.outputShape.length != 1 || classifier.outputShape[0] != classes.size()) {
            throw new IllegalArgumentException("classifier '" + classifier.name + "' outputs "
                    + Arrays.toString(classifier.outputShape) + " but there are " + classes.size() + " classes");
        }
    }

    /** A relative path that stays inside the bundle folder. */
    private static boolean isInside(String file) {
        java.nio.file.Path p = java.nio.file.Path.of(file);
        return !p.isAbsolute() && !p.normalize().startsWith("..") && !p.normalize().toString().isEmpty();
    }
}
