package org.persephonee.core.deploy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneSource;
import org.persephonee.core.backbone.InputSpec;
import org.persephonee.core.backbone.StageBundleSpec;
import org.persephonee.core.backbone.StageSpec;
import org.persephonee.core.eval.Confidence;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.export.ExitConfig;
import org.persephonee.core.runtime.EarlyExitModel;
import org.persephonee.core.util.AtomicFiles;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A bundle made runnable where phones and edge boxes run models: one TorchScript early-exit module (and the same
 * for PyTorch Mobile's lite interpreter) that runs the stages in order and returns at the first exit confident
 * enough, with its thresholds and label space inside, plus {@code deploy.json}. The weights leave Java as
 * safetensors (one self-describing file, readable without pickle, which DJL writes and any runtime can parse);
 * {@code tools/export-torchscript.py} builds the PyTorch network from them (the declarative layers, or the bundle's
 * TorchScript stage files) and scripts it. Before anything is published, the module runs on a seeded sample of the
 * person's images and some seeded noise images, and its every exit's probabilities and its decisions are compared
 * with {@link EarlyExitModel}'s; a difference above {@link #TOLERANCE}, or another decision that is not a near-tie at
 * a threshold, refuses the export. The folder is written beside the target and renamed into place.
 */
public final class TorchScriptExport {
    /** Largest probability difference accepted between the module and {@link EarlyExitModel}. */
    public static final double TOLERANCE = 1e-4;
    /** A confidence this close to a threshold may decide either way in another runtime (reported, not refused). */
    public static final double NEAR_TIE = 1e-5;
    static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().serializeSpecialFloatingPointValues()
            .create();

    /**
     * What an export did.
     *
     * @param out the published folder (null when refused)
     * @param images images compared
     * @param maxDiff largest probability difference over every exit and image
     * @param sameDecisions images where both took the same exit with the same label
     * @param nearTies images decided differently at a near-tie
     * @param problem why the export was refused, or null
     */
    public record Result(Path out, int images, double maxDiff, int sameDecisions, int nearTies, String problem) {
        /** One line for a person. */
        public String describe() {
            return problem != null ? "not exported: " + problem
                    : String.format(Locale.ROOT, "parity on %d images: every exit's probabilities within %.1e (max "
                    + "%.1e), %d of %d decisions the same%s", images, TOLERANCE, maxDiff, sameDecisions, images,
                    nearTies == 0 ? "" : ", " + nearTies + " near-tie(s) at a threshold");
        }
    }

    private TorchScriptExport() { }

    /**
     * Exports a bundle.
     *
     * @param bundle a bundle written by personalise or the lab
     * @param out the folder to write (replaced only when it is an earlier export)
     * @param data a persona folder whose images (a seeded sample of at most {@code maxImages}) the module is compared
     *             on, or null for the noise images alone
     * @param script {@code tools/export-torchscript.py}
     * @param python the Python with PyTorch
     */
    public static Result export(Path bundle, Path out, Path data, int maxImages, long seed, Path script, Path python,
                                PrintStream log) throws IOException, org.persephonee.core.export.BundleException {
        return export(bundle, out, data == null ? List.of() : personImages(bundle, data, maxImages, seed), seed, script,
                python, log);
    }

    /**
     * Exports a bundle, comparing on the given images (decoded for the bundle's backbone) and seeded noise images.
     *
     * @param images image files of the person's (the lab passes its test photos), may be empty
     */
    public static Result export(Path bundle, Path out, List<Path> images, long seed, Path script, Path python,
                                PrintStream log) throws IOException, org.persephonee.core.export.BundleException {
        if (!Files.isRegularFile(script)) {
            throw new IOException(script + ": the exporter script is missing");
        }
        if (!Files.isExecutable(python)) {
            throw new IOException("the TorchScript export needs Python with PyTorch: " + python + " is missing "
                    + "(Debian: apt-get install python3-torch)");
        }
        refuseUnlessReplaceable(out);
        Path parent = out.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = AtomicFiles.createTempDir(parent, "." + out.getFileName() + ".tmp-");
        try (EarlyExitModel m = EarlyExitModel.load(bundle)) {
            if (m.hasRetrainedStages()) {
                throw new IOException(bundle + ": its final exit runs re-trained stages, which the TorchScript "
                        + "export does not carry yet (personalise with --retrain-last 0)");
            }
            AtomicFiles.writeString(tmp.resolve("deploy.json"), GSON.toJson(deployJson(bundle, m)) + "\n");
            AtomicFiles.write(tmp.resolve("weights.safetensors"), weights(m));
            List<float[]> all = new ArrayList<>();
            for (Path img : images) {
                try {
                    all.add(org.persephonee.core.data.ImageDecoder.decode(img, m.backbone().input()));
                } catch (org.persephonee.core.data.ImageDecodeException e) {
                    throw new IOException(img + ": " + e.getMessage(), e);
                }
            }
            all.addAll(noise(m.backbone().input(), 8, seed));
            writeNpy(tmp.resolve("parity-inputs.npy"), all, m.backbone().input());
            log.println("export-torchscript: building the module in PyTorch and comparing on " + all.size()
                    + " images ...");
            runPython(python, script, tmp, bundle);
            Result r = compare(m, all, tmp.resolve("parity.json"));
            Files.deleteIfExists(tmp.resolve("parity-inputs.npy"));
            JsonObject parity = new JsonObject();
            parity.addProperty("images", r.images());
            parity.addProperty("max_abs_diff", r.maxDiff());
            parity.addProperty("tolerance", TOLERANCE);
            parity.addProperty("same_decisions", r.sameDecisions());
            parity.addProperty("near_ties", r.nearTies());
            parity.addProperty("passed", r.problem() == null);
            JsonObject deploy = com.google.gson.JsonParser.parseString(Files.readString(tmp.resolve("deploy.json")))
                    .getAsJsonObject();
            deploy.add("parity", parity);
            AtomicFiles.writeString(tmp.resolve("deploy.json"), GSON.toJson(deploy) + "\n");
            if (r.problem() != null) {
                return r;
            }
            publish(tmp, out);
            tmp = null;
            return new Result(out, r.images(), r.maxDiff(), r.sameDecisions(), r.nearTies(), null);
        } finally {
            if (tmp != null) {
                deleteTree(tmp);
            }
        }
    }

    /** {@code deploy.json}: input, labels, confidence, backbone, exits with thresholds, final exit, provenance. */
    static JsonObject deployJson(Path bundle, EarlyExitModel m) {
        ExitConfig cfg = m.config();
        Backbone bb = m.backbone();
        JsonObject d = new JsonObject();
        d.addProperty("format", "persephonee-deploy");
        d.addProperty("version", 1);
        InputSpec in = bb.input();
        JsonObject input = new JsonObject();
        input.addProperty("channels", in.channels());
        input.addProperty("height", in.height());
        input.addProperty("width", in.width());
        input.add("mean", GSON.toJsonTree(in.mean()));
        input.add("std", GSON.toJsonTree(in.std()));
        input.addProperty("resize", in.resize().id());
        input.addProperty("resize_to", in.resizeTo());
        input.addProperty("preprocessing", "decode to the input's channels (greyscale: stored values), resize to "
                + in.height() + "x" + in.width() + " (" + (in.resize() == InputSpec.Resize.PAD
                ? "scale to fit, pad with the border colour" : "shorter side to " + in.resizeTo() + ", centre crop")
                + "), scale to 0..1, subtract mean, divide by std; NCHW float32 (tools/run-deployed.py does this)");
        d.add("input", input);
        d.add("labels", GSON.toJsonTree(m.labels()));
        d.add("label_backbone_index", GSON.toJsonTree(cfg.labelBackboneIndex));
        d.addProperty("confidence", m.confidence() == Confidence.ENTROPY ? "entropy" : "max_softmax");
        JsonObject backbone = new JsonObject();
        JsonArray stages = new JsonArray();
        if (bb.source() instanceof BackboneSource.Declarative dec) {
            backbone.addProperty("format", "declarative");
            for (StageSpec s : dec.spec().stages) {
                JsonObject o = new JsonObject();
                o.addProperty("name", s.name());
                o.add("layers", GSON.toJsonTree(s.layers()));
                stages.add(o);
            }
            backbone.add("classifier", GSON.toJsonTree(dec.spec().classifier));
        } else if (bb.source() instanceof BackboneSource.TorchScriptStages ts) {
            backbone.addProperty("format", "torchscript-stages");
            String dir = cfg.backbone.path == null ? "backbone" : cfg.backbone.path;
            for (StageBundleSpec.Entry e : ts.bundle().stages) {
                JsonObject o = new JsonObject();
                o.addProperty("name", e.name);
                o.addProperty("file", dir + "/" + e.file);
                stages.add(o);
            }
            JsonObject c = new JsonObject();
            c.addProperty("file", dir + "/" + ts.bundle().classifier.file);
            backbone.add("classifier", c);
        }
        backbone.add("stages", stages);
        d.add("backbone", backbone);
        JsonArray exits = new JsonArray();
        double[] th = m.thresholds();
        List<ExitHead> heads = m.heads();
        for (int j = 0; j < heads.size(); j++) {
            ExitHead h = heads.get(j);
            JsonObject o = new JsonObject();
            o.addProperty("stage", h.stage());
            o.addProperty("stage_index", bb.stage(h.stage()).index());
            o.addProperty("head", h.head().id());
            o.addProperty("threshold", th[j]);
            o.add("layers", GSON.toJsonTree(h.layers()));
            exits.add(o);
        }
        d.add("exits", exits);
        JsonObject fin = new JsonObject();
        ExitHead f = m.finalHead();
        fin.addProperty("kind", f == null ? "backbone" : "refit");
        fin.addProperty("stage", bb.stages().get(bb.stages().size() - 1).name());
        if (f != null) {
            fin.add("layers", GSON.toJsonTree(f.layers()));
        }
        d.add("final", fin);
        if (cfg.expected != null) {
            d.add("expected", GSON.toJsonTree(cfg.expected));
        }
        JsonObject prov = cfg.provenance == null ? new JsonObject() : cfg.provenance.deepCopy();
        prov.addProperty("bundle", bundle.toAbsolutePath().toString());
        d.add("provenance", prov);
        return d;
    }

    /** Every parameter the module needs, named {@code <block>.<k>.<name>} in DJL's order (see the script). */
    static byte[] weights(EarlyExitModel m) throws IOException {
        Backbone bb = m.backbone();
        try (NDManager nm = bb.manager().newSubManager()) {
            NDList all = new NDList();
            if (bb.source() instanceof BackboneSource.Declarative) {
                for (int i = 0; i < bb.stages().size(); i++) {
                    add(all, nm, "stage." + i, bb.stages().get(i).block());
                }
                add(all, nm, "classifier", bb.classifier());
            }
            List<ExitHead> heads = m.heads();
            for (int j = 0; j < heads.size(); j++) {
                add(all, nm, "exit." + j, heads.get(j).block());
            }
            if (m.finalHead() != null) {
                add(all, nm, "final", m.finalHead().block());
            }
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            all.encode(b, NDList.Encoding.SAFETENSORS);
            return b.toByteArray();
        }
    }

    private static void add(NDList all, NDManager nm, String prefix, Block block) {
        int k = 0;
        for (Pair<String, Parameter> p : block.getParameters()) {
            NDArray a = p.getValue().getArray().duplicate();
            a.attach(nm);
            a.setName(prefix + "." + k + "." + p.getValue().getName());
            all.add(a);
            k++;
        }
    }

    /** The exporter script: under {@code persephonee.home}, or in the project folder or the one above it. */
    public static Path defaultScript() {
        String home = System.getProperty("persephonee.home");
        for (Path h : home != null ? List.of(Path.of(home)) : List.of(Path.of("."), Path.of(".."))) {
            Path s = h.resolve("tools").resolve("export-torchscript.py");
            if (Files.isRegularFile(s)) {
                return s;
            }
        }
        return Path.of(home != null ? home : ".").resolve("tools").resolve("export-torchscript.py");
    }

    /** A seeded sample of a persona folder's image files (test images first). */
    static List<Path> personImages(Path bundle, Path data, int max, long seed) throws IOException {
        ExitConfig cfg = new Gson().fromJson(
                Files.readString(bundle.resolve(org.persephonee.core.export.BundleWriter.CONFIG)), ExitConfig.class);
        List<String> classes = new ArrayList<>(cfg.labels);
        var ds = new org.persephonee.core.data.ImageImporter(new org.persephonee.core.data.LabelSpace(classes), null)
                .importFolder(data, null, () -> false).dataset();
        List<org.persephonee.core.data.PersonalImage> test = new ArrayList<>(ds.test());
        List<org.persephonee.core.data.PersonalImage> rest = new ArrayList<>(ds.labelled());
        rest.addAll(ds.unlabelled());
        java.util.Collections.shuffle(test, new java.util.Random(seed));
        java.util.Collections.shuffle(rest, new java.util.Random(seed + 1));
        test.addAll(rest);
        return test.subList(0, Math.min(max, test.size())).stream().map(i -> i.path()).toList();
    }

    /** {@code n} seeded standard-normal images: inputs no person sends, to compare the layers beyond the data. */
    static List<float[]> noise(InputSpec in, int n, long seed) {
        java.util.Random r = new java.util.Random(seed);
        List<float[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            float[] x = new float[in.size()];
            for (int k = 0; k < x.length; k++) {
                x[k] = (float) r.nextGaussian();
            }
            out.add(x);
        }
        return out;
    }

    /** A NumPy {@code .npy} (version 1.0) of float32 images, shape {@code [n, C, H, W]}. */
    static void writeNpy(Path f, List<float[]> images, InputSpec in) throws IOException {
        String header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + images.size() + ", " + in.channels()
                + ", " + in.height() + ", " + in.width() + "), }";
        int total = 10 + header.length() + 1;
        int pad = (64 - total % 64) % 64;
        header = header + " ".repeat(pad) + "\n";
        ByteBuffer b = ByteBuffer.allocate(10 + header.length() + 4 * images.size() * in.size())
                .order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        b.putShort((short) header.length());
        b.put(header.getBytes(StandardCharsets.US_ASCII));
        for (float[] x : images) {
            for (float v : x) {
                b.putFloat(v);
            }
        }
        AtomicFiles.write(f, b.array());
    }

    private static void runPython(Path python, Path script, Path dir, Path bundle) throws IOException {
        List<String> cmd = List.of(python.toString(), script.toString(), "--deploy", dir.toString(), "--bundle",
                bundle.toAbsolutePath().toString(), "--parity-in", dir.resolve("parity-inputs.npy").toString(),
                "--parity-out", dir.resolve("parity.json").toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output;
        try {
            output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IOException(script + ": did not finish in 10 minutes");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        if (p.exitValue() != 0) {
            String[] lines = output.split("\n");
            throw new IOException(script.getFileName() + " failed: " + lines[lines.length - 1]);
        }
    }

    /** Compares the module's outputs with {@link EarlyExitModel}'s on the same images. */
    static Result compare(EarlyExitModel m, List<float[]> images, Path parityJson) throws IOException {
        JsonObject o = com.google.gson.JsonParser.parseString(Files.readString(parityJson)).getAsJsonObject();
        JsonArray rows = o.getAsJsonArray("images");
        if (rows == null || rows.size() != images.size()) {
            throw new IOException(parityJson + ": " + (rows == null ? "no images" : rows.size() + " results for "
                    + images.size() + " images"));
        }
        double[] th = m.thresholds();
        double maxDiff = 0;
        int same = 0;
        int ties = 0;
        List<String> bad = new ArrayList<>();
        for (int i = 0; i < images.size(); i++) {
            JsonObject r = rows.get(i).getAsJsonObject();
            float[][] javaP = m.allProbabilities(images.get(i));
            JsonArray probs = r.getAsJsonArray("probs");
            for (int e = 0; e < javaP.length; e++) {
                JsonArray pe = probs.get(e).getAsJsonArray();
                for (int c = 0; c < javaP[e].length; c++) {
                    maxDiff = Math.max(maxDiff, Math.abs(javaP[e][c] - pe.get(c).getAsDouble()));
                }
            }
            EarlyExitModel.Prediction jp = m.classify(images.get(i));
            int exit = r.get("exit").getAsInt();
            String label = m.labels().get(r.get("label").getAsInt());
            if (exit == jp.exitIndex() && label.equals(jp.label())) {
                same++;
            } else if (nearTie(m, javaP, th, Math.min(exit, jp.exitIndex()))) {
                ties++;
            } else {
                bad.add("image " + i + ": exit " + jp.exitIndex() + " '" + jp.label() + "' in Java, exit " + exit
                        + " '" + label + "' in TorchScript");
            }
        }
        String problem = null;
        if (maxDiff > TOLERANCE) {
            problem = String.format(Locale.ROOT, "probabilities differ by up to %.2e (tolerance %.0e)", maxDiff,
                    TOLERANCE);
        } else if (!bad.isEmpty()) {
            problem = bad.size() + " decision(s) differ: " + String.join("; ", bad.subList(0, Math.min(3, bad.size())));
        }
        return new Result(null, images.size(), maxDiff, same, ties, problem);
    }

    /** True when an exit up to {@code upTo} has a confidence within {@link #NEAR_TIE} of its threshold. */
    private static boolean nearTie(EarlyExitModel m, float[][] p, double[] th, int upTo) {
        for (int e = 0; e <= upTo && e < th.length; e++) {
            if (Math.abs(m.confidence().of(p[e]) - th[e]) <= NEAR_TIE) {
                return true;
            }
        }
        return false;
    }

    /** Refuses a target that exists and is neither empty nor an earlier export. */
    static void refuseUnlessReplaceable(Path out) throws IOException {
        if (!Files.exists(out)) {
            return;
        }
        if (!Files.isDirectory(out)) {
            throw new IOException(out + ": exists and is not a folder");
        }
        try (Stream<Path> s = Files.list(out)) {
            List<String> names = s.map(p -> p.getFileName().toString()).sorted().toList();
            List<String> ours = List.of("deploy.json", "model.pt", "model.ptl", "weights.safetensors", "parity.json");
            if (!names.isEmpty() && (!names.contains("deploy.json") || !ours.containsAll(names))) {
                throw new IOException(out + ": refusing to replace: not an export written by persephonee (holds "
                        + String.join(", ", names.subList(0, Math.min(6, names.size()))) + ")");
            }
        }
    }

    private static void publish(Path tmp, Path out) throws IOException {
        Path old = null;
        if (Files.exists(out)) {
            old = out.resolveSibling("." + out.getFileName() + ".old-" + ProcessHandle.current().pid());
            Files.move(out, old);
        }
        try {
            Files.move(tmp, out, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            if (old != null) {
                Files.move(old, out);
            }
            throw e;
        }
        if (old != null) {
            deleteTree(old);
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        }
    }

    /** For readers of {@code deploy.json}. */
    static JsonElement read(Path deployJson) throws IOException {
        return com.google.gson.JsonParser.parseString(Files.readString(deployJson));
    }
}
