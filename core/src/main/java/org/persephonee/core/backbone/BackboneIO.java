package org.persephonee.core.backbone;

import ai.djl.MalformedModelException;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
import org.persephonee.core.engine.Engines;
import org.persephonee.core.util.AtomicFiles;
import org.persephonee.core.util.Hashes;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads and writes backbone folders. {@code backbone.json} is either a declarative backbone
 * ({@link BackboneSpec}, format {@value BackboneSpec#FORMAT}) with the DJL parameter file it names, whose
 * SHA-256 and size are recorded in the JSON, or a TorchScript stage bundle ({@link StageBundleSpec}, format
 * {@value StageBundleSpec#FORMAT}) written by {@code tools/export-backbone.py}.
 */
public final class BackboneIO {
    public static final String SPEC_FILE = "backbone.json";
    public static final String PARAMS_FILE = "backbone.params";

    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping()
            .serializeSpecialFloatingPointValues().create();

    private BackboneIO() { }

    /** The shared JSON mapper for backbone files. */
    public static Gson gson() { return GSON; }

    /**
     * Saves a backbone's spec and trained parameters into {@code dir} (created if missing); each file is
     * written to a temporary name and renamed into place, parameters first.
     *
     * @param backbone non-null, with initialised parameters
     * @param dir non-null target folder
     */
    public static void save(Backbone backbone, Path dir) throws IOException {
        if (!(backbone.source() instanceof BackboneSource.Declarative declarative)) {
            throw new IllegalArgumentException(backbone.id() + ": a TorchScript stage bundle is copied, not saved");
        }
        Files.createDirectories(dir);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            backbone.network().saveParameters(out);
        }
        byte[] params = bytes.toByteArray();
        BackboneSpec spec = declarative.spec();
        BackboneSpec.Parameters p = new BackboneSpec.Parameters();
        p.file = PARAMS_FILE;
        p.sha256 = Hashes.sha256(params);
        p.bytes = params.length;
        spec.parameters = p;
        AtomicFiles.write(dir.resolve(PARAMS_FILE), params);
        AtomicFiles.writeString(dir.resolve(SPEC_FILE), GSON.toJson(spec) + "\n");
        backbone.directory(dir);
    }

    /**
     * What a backbone folder holds, read from its {@code backbone.json} alone (files not loaded).
     *
     * @param id backbone id
     * @param input input spec (size, channels, normalisation, resize rule)
     * @param classes class names in output order
     * @param torchScript true for a TorchScript stage bundle
     */
    public record Info(String id, InputSpec input, java.util.List<String> classes, boolean torchScript) { }

    /**
     * Reads and validates only {@code backbone.json}, whatever its format.
     *
     * @throws BackboneFormatException naming the file and what is wrong with it
     */
    public static Info readInfo(Path dir) throws BackboneFormatException {
        String text = readText(dir);
        if (StageBundleSpec.FORMAT.equals(formatOf(dir, text))) {
            StageBundleSpec s = StageBundleIO.readSpec(dir, text);
            return new Info(s.id, s.input.toInputSpec(), java.util.List.copyOf(s.classes), true);
        }
        BackboneSpec s = parseSpec(dir, text);
        return new Info(s.id, s.input.toInputSpec(), java.util.List.copyOf(s.classes), false);
    }

    private static String readText(Path dir) throws BackboneFormatException {
        if (dir == null || !Files.isDirectory(dir)) {
            throw new BackboneFormatException(dir == null ? Path.of("?") : dir, "not a backbone folder (no such folder)");
        }
        Path json = dir.resolve(SPEC_FILE);
        if (!Files.isRegularFile(json)) {
            throw new BackboneFormatException(json, "not found: a backbone folder needs " + SPEC_FILE
                    + " and the weight files it names (made by ./persephonee pretrain or tools/export-backbone.py)");
        }
        try {
            return Files.readString(json, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new BackboneFormatException(json, "cannot be read (" + e.getMessage() + ")", e);
        }
    }

    private static String formatOf(Path dir, String text) throws BackboneFormatException {
        try {
            com.google.gson.JsonElement el = com.google.gson.JsonParser.parseString(text);
            if (!el.isJsonObject()) {
                throw new BackboneFormatException(dir.resolve(SPEC_FILE), "not a JSON object");
            }
            com.google.gson.JsonElement f = el.getAsJsonObject().get("format");
            return f == null || !f.isJsonPrimitive() ? null : f.getAsString();
        } catch (JsonParseException e) {
            throw new BackboneFormatException(dir.resolve(SPEC_FILE), "not valid backbone JSON (" + rootMessage(e) + ")", e);
        }
    }

    /**
     * Reads only {@code backbone.json} of a declarative backbone folder, validated.
     *
     * @throws BackboneFormatException naming the file and what is wrong with it (also for a stage bundle)
     */
    public static BackboneSpec readSpec(Path dir) throws BackboneFormatException {
        String text = readText(dir);
        if (StageBundleSpec.FORMAT.equals(formatOf(dir, text))) {
            throw new BackboneFormatException(dir.resolve(SPEC_FILE), "is a TorchScript stage bundle, not a "
                    + "declarative backbone");
        }
        return parseSpec(dir, text);
    }

    private static BackboneSpec parseSpec(Path dir, String text) throws BackboneFormatException {
        Path json = dir.resolve(SPEC_FILE);
        BackboneSpec spec;
        try {
            spec = org.persephonee.core.util.JsonProblems.fromJson(GSON, text, BackboneSpec.class);
        } catch (JsonParseException e) {
            throw new BackboneFormatException(json, "not valid backbone JSON (" + rootMessage(e) + ")", e);
        }
        if (spec == null) {
            throw new BackboneFormatException(json, "is empty");
        }
        try {
            spec.validate();
        } catch (IllegalArgumentException e) {
            throw new BackboneFormatException(json, e.getMessage(), e);
        } catch (RuntimeException e) {
            // a value of an unexpected kind that validation does not name yet: still one line about the file
            throw new BackboneFormatException(json, "is not a valid backbone description (a value is missing or of "
                    + "the wrong kind)", e);
        }
        if (spec.parameters == null || spec.parameters.file == null || spec.parameters.file.isBlank()) {
            throw new BackboneFormatException(json, "'parameters.file' is missing: the backbone has no weights");
        }
        return spec;
    }

    /**
     * Loads a backbone folder: validates the JSON, checks the parameter file's size and SHA-256, then
     * loads the weights into a freshly built network.
     *
     * @param dir non-null folder holding {@code backbone.json}
     * @throws BackboneFormatException naming the missing, truncated or mismatched file
     */
    public static Backbone load(Path dir) throws BackboneFormatException {
        return load(dir, false);
    }

    /**
     * Loads a backbone folder of either format.
     *
     * @param trainable for a TorchScript stage bundle, load its modules with gradients on (full fine-tuning);
     *     declarative backbones are always trainable
     * @throws BackboneFormatException naming the missing, truncated or mismatched file (and stage)
     */
    public static Backbone load(Path dir, boolean trainable) throws BackboneFormatException {
        String text = readText(dir);
        if (StageBundleSpec.FORMAT.equals(formatOf(dir, text))) {
            return StageBundleIO.load(dir, StageBundleIO.readSpec(dir, text), trainable);
        }
        BackboneSpec spec = parseSpec(dir, text);
        Path paramsPath = dir.resolve(spec.parameters.file).normalize();
        if (!paramsPath.startsWith(dir.normalize())) {
            throw new BackboneFormatException(dir.resolve(SPEC_FILE), "'parameters.file' points outside the folder");
        }
        if (!Files.isRegularFile(paramsPath)) {
            throw new BackboneFormatException(paramsPath, "not found (named by " + SPEC_FILE + ")");
        }
        byte[] params;
        try {
            params = Files.readAllBytes(paramsPath);
        } catch (IOException e) {
            throw new BackboneFormatException(paramsPath, "cannot be read (" + e.getMessage() + ")", e);
        }
        if (spec.parameters.bytes > 0 && params.length < spec.parameters.bytes) {
            throw new BackboneFormatException(paramsPath, "truncated: " + params.length + " bytes, "
                    + SPEC_FILE + " expects " + spec.parameters.bytes);
        }
        if (spec.parameters.sha256 != null && !spec.parameters.sha256.equalsIgnoreCase(Hashes.sha256(params))) {
            throw new BackboneFormatException(paramsPath, "SHA-256 does not match " + SPEC_FILE
                    + " (the file was changed, or belongs to another backbone)");
        }
        Engines.pytorch();
        Backbone bb = Backbone.fromSpec(spec);
        try (InputStream raw = new BufferedInputStream(new java.io.ByteArrayInputStream(params));
             DataInputStream in = new DataInputStream(raw)) {
            bb.initialize();
            java.util.Map<String, ai.djl.ndarray.types.Shape> expected = new java.util.LinkedHashMap<>();
            for (ai.djl.util.Pair<String, ai.djl.nn.Parameter> p : bb.network().getParameters()) {
                expected.put(p.getKey(), p.getValue().getArray().getShape());
            }
            bb.network().loadParameters(bb.manager(), in);
            if (in.read() != -1) {
                throw new MalformedModelException("unexpected bytes after the last parameter");
            }
            // DJL does not compare loaded shapes with the architecture: do it here
            for (ai.djl.util.Pair<String, ai.djl.nn.Parameter> p : bb.network().getParameters()) {
                ai.djl.ndarray.types.Shape want = expected.get(p.getKey());
                ai.djl.ndarray.types.Shape got = p.getValue().getArray().getShape();
                if (!got.equals(want)) {
                    throw new MalformedModelException("parameter " + p.getKey() + " has shape " + got
                            + ", the architecture needs " + want);
                }
            }
        } catch (EOFException e) {
            bb.close();
            throw new BackboneFormatException(paramsPath, "truncated or corrupt: ended before all parameters of "
                    + "the architecture in " + SPEC_FILE + " were read", e);
        } catch (MalformedModelException | IOException | RuntimeException e) {
            bb.close();
            throw new BackboneFormatException(paramsPath, "does not match the architecture in " + SPEC_FILE
                    + " (" + rootMessage(e) + ")", e);
        }
        bb.directory(dir);
        return bb;
    }

    /**
     * For a TorchScript stage bundle: runs the exporter's reference input through this backbone and returns
     * the largest absolute difference from PyTorch's own output.
     *
     * @throws BackboneFormatException when there is no reference or its files are unreadable
     */
    public static double referenceDifference(Backbone bb) throws BackboneFormatException {
        return StageBundleIO.referenceDifference(bb);
    }

    /**
     * The images of a TorchScript stage bundle's reference input (what its exporter checked PyTorch against), one
     * normalised image per entry; empty for a declarative backbone or a bundle without a folder.
     */
    public static java.util.List<float[]> referenceImages(Backbone bb) throws BackboneFormatException {
        return StageBundleIO.referenceImages(bb);
    }

    /** The first meaningful line of a libtorch error, for a one-line message. */
    public static String libtorchMessage(Throwable e) {
        return StageBundleIO.firstLine(e);
    }

    /** The weights hash of a stage bundle's files in {@code dir}, as {@link Backbone#parametersSha256()} gives it. */
    public static String stageBundleSha256(Path dir, StageBundleSpec spec) throws IOException {
        java.util.List<String> hashes = new java.util.ArrayList<>();
        for (StageBundleSpec.Entry e : spec.entries()) {
            hashes.add(Hashes.sha256(dir.resolve(e.file)));
        }
        return StageBundleIO.bundleSha256(hashes);
    }

    static String rootMessage(Throwable e) {
        return org.persephonee.core.util.JsonProblems.describe(e);
    }
}
