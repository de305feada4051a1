package org.persephonee.core.backbone;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import com.google.gson.JsonParseException;
import org.persephonee.core.util.Hashes;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Loads a TorchScript stage bundle ({@link StageBundleSpec}) as a {@link Backbone}: one DJL
 * {@code PtSymbolBlock} per stage. Every file is checked (present, size, SHA-256, TorchScript file
 * version), then a zero image is run through the chain so that stages that don't fit together, or a
 * manifest whose shapes are wrong, fail at load time with the stage named.
 */
final class StageBundleIO {
    /** TorchScript archive versions this build's libtorch (2.7) reads. */
    static final int MIN_TORCHSCRIPT_VERSION = 1;
    static final int MAX_TORCHSCRIPT_VERSION = 10;

    private StageBundleIO() { }

    static StageBundleSpec readSpec(Path dir, String text) throws BackboneFormatException {
        Path json = dir.resolve(BackboneIO.SPEC_FILE);
        StageBundleSpec spec;
        try {
            spec = org.persephonee.core.util.JsonProblems.fromJson(BackboneIO.gson(), text, StageBundleSpec.class);
        } catch (JsonParseException e) {
            throw new BackboneFormatException(json, "not a valid stage-bundle manifest (" + BackboneIO.rootMessage(e) + ")", e);
        }
        try {
            spec.validate();
        } catch (IllegalArgumentException e) {
            throw new BackboneFormatException(json, e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new BackboneFormatException(json, "is not a valid stage-bundle manifest (a value is missing or of "
                    + "the wrong kind)", e);
        }
        return spec;
    }

    /**
     * Loads and checks every stage.
     *
     * @param trainable load the modules with gradients on their parameters (full fine-tuning)
     */
    static Backbone load(Path dir, StageBundleSpec spec, boolean trainable) throws BackboneFormatException {
        Path json = dir.resolve(BackboneIO.SPEC_FILE);
        List<String> hashes = new ArrayList<>();
        List<Path> files = new ArrayList<>();
        for (StageBundleSpec.Entry e : spec.entries()) {
            String label = label(spec, e);
            Path p = dir.resolve(e.file).normalize();
            if (!p.startsWith(dir.normalize())) {
                throw new BackboneFormatException(json, label + ": file " + e.file + " points outside the folder");
            }
            if (!Files.isRegularFile(p)) {
                throw new BackboneFormatException(p, label + ": TorchScript file not found (named by "
                        + BackboneIO.SPEC_FILE + ")");
            }
            String sha;
            try {
                long size = Files.size(p);
                if (e.bytes > 0 && size != e.bytes) {
                    throw new BackboneFormatException(p, label + ": " + size + " bytes, " + BackboneIO.SPEC_FILE
                            + " expects " + e.bytes + " (truncated or replaced)");
                }
                sha = Hashes.sha256(p);
            } catch (IOException ex) {
                throw new BackboneFormatException(p, label + ": cannot be read (" + ex.getMessage() + ")", ex);
            }
            if (e.sha256 != null && !e.sha256.equalsIgnoreCase(sha)) {
                throw new BackboneFormatException(p, label + ": SHA-256 does not match " + BackboneIO.SPEC_FILE
                        + " (the file was changed, or belongs to another export)");
            }
            checkVersion(p, label);
            hashes.add(sha);
            files.add(p);
        }
        String bundleSha = bundleSha256(hashes);

        org.persephonee.core.engine.Engines.pytorch();
        Model model = Model.newInstance(spec.id, Device.cpu(), "PyTorch");
        try {
            PtNDManager manager = (PtNDManager) model.getNDManager();
            List<Block> blocks = new ArrayList<>();
            List<StageBundleSpec.Entry> entries = spec.entries();
            for (int i = 0; i < entries.size(); i++) {
                try {
                    blocks.add(JniUtils.loadModule(manager, files.get(i), true, new String[0], new String[0], trainable));
                } catch (RuntimeException ex) {
                    throw new BackboneFormatException(files.get(i), label(spec, entries.get(i))
                            + ": libtorch cannot load this TorchScript file (" + firstLine(ex) + ")", ex);
                }
            }
            checkChain(dir, spec, blocks);
            Block classifier = blocks.remove(blocks.size() - 1);
            Backbone bb = Backbone.fromStageBundle(spec, bundleSha, model, blocks, classifier);
            bb.directory(dir);
            checkReference(bb, json);
            return bb;
        } catch (BackboneFormatException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    private static String label(StageBundleSpec spec, StageBundleSpec.Entry e) {
        return e == spec.classifier ? "classifier '" + e.name + "'" : "stage '" + e.name + "'";
    }

    /** Reads the archive's {@code version} record (TorchScript files are zip archives). */
    private static void checkVersion(Path p, String label) throws BackboneFormatException {
        String version = null;
        try (ZipFile zip = new ZipFile(p.toFile())) {
            Enumeration<? extends ZipEntry> en = zip.entries();
            while (en.hasMoreElements() && version == null) {
                ZipEntry z = en.nextElement();
                String n = z.getName();
                if (n.endsWith("/version") && n.indexOf('/') == n.lastIndexOf('/')
                        || n.endsWith("/.data/version")) {
                    try (InputStream in = zip.getInputStream(z)) {
                        version = new String(in.readNBytes(32), StandardCharsets.UTF_8).trim();
                    }
                }
            }
        } catch (IOException e) {
            throw new BackboneFormatException(p, label + ": not a TorchScript file (not a zip archive: "
                    + e.getMessage() + ")", e);
        }
        if (version == null) {
            throw new BackboneFormatException(p, label + ": not a TorchScript file (no version record)");
        }
        int v;
        try {
            v = Integer.parseInt(version);
        } catch (NumberFormatException e) {
            throw new BackboneFormatException(p, label + ": unreadable TorchScript version '" + version + "'");
        }
        if (v < MIN_TORCHSCRIPT_VERSION || v > MAX_TORCHSCRIPT_VERSION) {
            throw new BackboneFormatException(p, label + ": TorchScript file version " + v + " is not supported "
                    + "(this build's libtorch 2.7 reads " + MIN_TORCHSCRIPT_VERSION + "-" + MAX_TORCHSCRIPT_VERSION
                    + "; export with PyTorch 2.7 or older)");
        }
    }

    /** Runs a zero image through the chain: each stage must accept the previous output and give its declared shape. */
    private static void checkChain(Path dir, StageBundleSpec spec, List<Block> blocks) throws BackboneFormatException {
        Path json = dir.resolve(BackboneIO.SPEC_FILE);
        InputSpec in = spec.input.toInputSpec();
        List<StageBundleSpec.Entry> entries = spec.entries();
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDArray x = m.zeros(new Shape(1, in.channels(), in.height(), in.width()));
            long[] prev = in.shape();
            String prevName = "the input";
            ParameterStore ps = new ParameterStore(m, false);
            for (int i = 0; i < blocks.size(); i++) {
                StageBundleSpec.Entry e = entries.get(i);
                NDList out;
                try {
                    out = blocks.get(i).forward(ps, new NDList(x), false);
                } catch (RuntimeException ex) {
                    throw new BackboneFormatException(json, label(spec, e) + " does not accept the output of "
                            + prevName + " (shape " + Arrays.toString(prev) + "): the stages do not chain ("
                            + firstLine(ex) + ")", ex);
                }
                if (out.size() != 1) {
                    throw new BackboneFormatException(json, label(spec, e) + " returns " + out.size()
                            + " tensors; a stage must return one");
                }
                x = out.singletonOrThrow();
                long[] got = Arrays.copyOfRange(x.getShape().getShape(), 1, x.getShape().dimension());
                if (!Arrays.equals(got, e.outputShape)) {
                    throw new BackboneFormatException(json, label(spec, e) + " outputs " + Arrays.toString(got)
                            + " but " + BackboneIO.SPEC_FILE + " says " + Arrays.toString(e.outputShape)
                            + " (the manifest does not describe these files)");
                }
                prev = got;
                prevName = label(spec, e);
            }
        }
    }

    /**
     * Refuses stages that do not reproduce the exporter's reference output: a stage file replaced by another
     * of the same shapes, with its hash updated in the manifest, passes every other check.
     * The tolerance, {@value #LOAD_TOLERANCE} of the largest reference logit, is ten times the exporter's.
     */
    private static void checkReference(Backbone bb, Path json) throws BackboneFormatException {
        StageBundleSpec spec = ((BackboneSource.TorchScriptStages) bb.source()).bundle();
        float[] want = readFloats(bb.directory().resolve(spec.reference.output),
                (long) spec.reference.batch * bb.classNames().size());
        double scale = 1;
        for (float v : want) {
            scale = Math.max(scale, Math.abs(v));
        }
        double diff = referenceDifference(bb);
        if (!(diff <= LOAD_TOLERANCE * scale)) {
            throw new BackboneFormatException(json, String.format(java.util.Locale.ROOT, "these stages do not "
                    + "reproduce the exporter's reference output (max |difference| %.3g, tolerance %.1g): a stage "
                    + "file was replaced or belongs to another export, or this CPU computes wrongly "
                    + "(see 'persephonee doctor')", diff, LOAD_TOLERANCE * scale));
        }
    }

    /** Relative tolerance of the load-time reference check. */
    static final double LOAD_TOLERANCE = 1e-3;

    /**
     * Runs the exporter's reference input through the loaded backbone and compares with PyTorch's output.
     *
     * @return the largest absolute difference
     * @throws BackboneFormatException when the bundle has no reference or its files are unreadable
     */
    static double referenceDifference(Backbone bb) throws BackboneFormatException {
        StageBundleSpec spec = bb.source() instanceof BackboneSource.TorchScriptStages t ? t.bundle() : null;
        Path dir = bb.directory();
        if (spec == null || spec.reference == null || dir == null) {
            throw new BackboneFormatException(dir == null ? Path.of("?") : dir.resolve(BackboneIO.SPEC_FILE),
                    "has no reference input/output to check against");
        }
        int n = spec.reference.batch;
        float[] x = readFloats(dir.resolve(spec.reference.input), (long) n * bb.input().size());
        float[] want = readFloats(dir.resolve(spec.reference.output), (long) n * bb.classNames().size());
        try (NDManager m = bb.manager().newSubManager()) {
            float[] got = bb.logits(m.create(x, bb.batchShape(n))).toFloatArray();
            double max = 0;
            for (int i = 0; i < got.length; i++) {
                max = Math.max(max, Math.abs(got[i] - want[i]));
            }
            return max;
        }
    }

    /** The reference input's images, one per batch entry; empty for a declarative backbone. */
    static List<float[]> referenceImages(Backbone bb) throws BackboneFormatException {
        StageBundleSpec spec = bb.source() instanceof BackboneSource.TorchScriptStages t ? t.bundle() : null;
        if (spec == null || spec.reference == null || bb.directory() == null) {
            return List.of();
        }
        int n = spec.reference.batch;
        int size = bb.input().size();
        float[] x = readFloats(bb.directory().resolve(spec.reference.input), (long) n * size);
        List<float[]> images = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            images.add(java.util.Arrays.copyOfRange(x, i * size, (i + 1) * size));
        }
        return images;
    }

    private static float[] readFloats(Path p, long count) throws BackboneFormatException {
        byte[] b;
        try {
            b = Files.readAllBytes(p);
        } catch (IOException e) {
            throw new BackboneFormatException(p, "cannot be read (" + e.getMessage() + ")", e);
        }
        if (b.length != count * 4) {
            throw new BackboneFormatException(p, b.length + " bytes, expected " + count * 4 + " (" + count + " floats)");
        }
        float[] f = new float[(int) count];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return f;
    }

    /** The weights hash of a stage bundle: SHA-256 over every file's SHA-256 (hex, one per line), in order. */
    static String bundleSha256(List<String> fileHashes) {
        return Hashes.sha256((String.join("\n", fileHashes) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    /** The first meaningful line of a libtorch error (its C++ frames and "Exception raised from" left out). */
    static String firstLine(Throwable e) {
        String msg = BackboneIO.rootMessage(e);
        for (String line : msg.split("\n")) {
            if (!line.isBlank() && !line.startsWith("Exception raised from")) {
                return line.trim();
            }
        }
        return msg.trim();
    }
}
