package org.persephonee.core.deploy;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import org.persephonee.core.export.ExitConfig;
import org.persephonee.core.runtime.EarlyExitModel;
import org.persephonee.core.util.AtomicFiles;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
 * person's images, a stage bundle's reference images and some seeded noise images, and its every exit's
 * probabilities and its decisions are compared with {@link EarlyExitModel}'s twice: as the script's PyTorch ran it
 * (logits as a share of their scale: another build rounds float32 sums in its own order) and as DJL's own libtorch
 * runs it (logits as they are). A difference above {@link #TOLERANCE}, or another decision that is not a near-tie at
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
     * @param maxLogitDiff largest difference of the exits' and the final block's raw outputs, as a share of the
     *                     row's largest magnitude when that is above 1
     * @param sameDecisions images where both took the same exit with the same label
     * @param nearTies images decided differently at a near-tie
     * @param problem why the export was refused, or null
     * @param libtorch the same comparison with the module run by DJL's own libtorch, logits compared as they are
     *                 ({@code maxLogitDiff} absolute there); null when it did not run
     */
    public record Result(Path out, int images, double maxDiff, double maxLogitDiff, int sameDecisions, int nearTies,
                         String problem, Result libtorch) {
        /** One line for a person. */
        public String describe() {
            if (problem != null) {
                return "not exported: " + problem;
            }
            String s = String.format(Locale.ROOT, "parity on %d images: every exit's logits (relative to their "
                    + "scale) and probabilities within %.1e (max %.1e and %.1e), %d of %d decisions the same%s",
                    images, TOLERANCE, maxLogitDiff, maxDiff, sameDecisions, images,
                    nearTies == 0 ? "" : ", " + nearTies + " near-tie(s) at a threshold");
            return libtorch == null ? s : s + String.format(Locale.ROOT, "; run by DJL's libtorch %s: logits within "
                    + "%.1e (max %.1e), probabilities max %.1e, %d of %d decisions the same", LibtorchRun.version(),
                    TOLERANCE, libtorch.maxLogitDiff, libtorch.maxDiff, libtorch.sameDecisions, libtorch.images);
        }

        /** A short line for a notification: decisions, and how close the logits came in each runtime. */
        public String brief() {
            if (problem != null) {
                return "not exported: " + problem;
            }
            String lt = libtorch == null ? "" : libtorch.maxLogitDiff == 0 ? "bit-identical in DJL's libtorch, "
                    : String.format(Locale.ROOT, "within %.1e in DJL's libtorch, ", libtorch.maxLogitDiff);
            return String.format(Locale.ROOT, "parity: %d of %d decisions the same%s; logits %swithin %.1e of their "
                    + "scale in the exporter's PyTorch", sameDecisions, images,
                    nearTies == 0 ? "" : " (" + nearTies + " near-tie(s))", lt, maxLogitDiff);
        }

        /** The first refusal of the two comparisons, or null. */
        String anyProblem() {
            return problem != null ? problem : libtorch != null ? libtorch.problem : null;
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
            AtomicFiles.writeString(tmp.resolve("deploy.json"), GSON.toJson(DeployJson.of(bundle, m)) + "\n");
            AtomicFiles.write(tmp.resolve("weights.safetensors"), DeployFiles.weights(m));
            List<float[]> all = new ArrayList<>();
            for (Path img : images) {
                try {
                    all.add(org.persephonee.core.data.ImageDecoder.decode(img, m.backbone().input()));
                } catch (org.persephonee.core.data.ImageDecodeException e) {
                    throw new IOException(img + ": " + e.getMessage(), e);
                }
            }
            // the stage bundle's own reference images (what its exporter checked PyTorch against), then noise
            try {
                all.addAll(org.persephonee.core.backbone.BackboneIO.referenceImages(m.backbone()));
            } catch (org.persephonee.core.backbone.BackboneFormatException e) {
                throw new IOException(e.getMessage(), e);
            }
            all.addAll(DeployFiles.noise(m.backbone().input(), 8, seed));
            DeployFiles.writeNpy(tmp.resolve("parity-inputs.npy"), all, m.backbone().input());
            log.println("export-torchscript: building the module in PyTorch and comparing on " + all.size()
                    + " images ...");
            runPython(python, script, tmp, bundle);
            Result py = Parity.compare(m, all, tmp.resolve("parity.json"));
            log.println("export-torchscript: running the module in DJL's libtorch " + LibtorchRun.version() + " ...");
            Result lt = LibtorchRun.compare(m, all, tmp.resolve("model.pt"));
            Result r = new Result(null, py.images(), py.maxDiff(), py.maxLogitDiff(), py.sameDecisions(),
                    py.nearTies(), py.problem(), lt);
            Files.deleteIfExists(tmp.resolve("parity-inputs.npy"));
            JsonObject parity = new JsonObject();
            parity.addProperty("images", r.images());
            parity.addProperty("max_abs_diff", r.maxDiff());
            parity.addProperty("max_logit_diff_of_scale", r.maxLogitDiff());
            parity.addProperty("tolerance", TOLERANCE);
            parity.addProperty("same_decisions", r.sameDecisions());
            parity.addProperty("near_ties", r.nearTies());
            JsonObject inLibtorch = new JsonObject();
            inLibtorch.addProperty("libtorch", LibtorchRun.version());
            inLibtorch.addProperty("max_abs_diff", lt.maxDiff());
            inLibtorch.addProperty("max_logit_abs_diff", lt.maxLogitDiff());
            inLibtorch.addProperty("same_decisions", lt.sameDecisions());
            inLibtorch.addProperty("near_ties", lt.nearTies());
            parity.add("in_djl_libtorch", inLibtorch);
            parity.addProperty("passed", r.anyProblem() == null);
            JsonObject deploy = com.google.gson.JsonParser.parseString(Files.readString(tmp.resolve("deploy.json")))
                    .getAsJsonObject();
            deploy.add("parity", parity);
            AtomicFiles.writeString(tmp.resolve("deploy.json"), GSON.toJson(deploy) + "\n");
            if (r.anyProblem() != null) {
                return new Result(null, r.images(), r.maxDiff(), r.maxLogitDiff(), r.sameDecisions(), r.nearTies(),
                        r.anyProblem(), lt);
            }
            publish(tmp, out);
            tmp = null;
            return new Result(out, r.images(), r.maxDiff(), r.maxLogitDiff(), r.sameDecisions(), r.nearTies(), null,
                    lt);
        } finally {
            if (tmp != null) {
                org.persephonee.core.util.FileTrees.delete(tmp);
            }
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
            org.persephonee.core.util.FileTrees.delete(old);
        }
    }


}
