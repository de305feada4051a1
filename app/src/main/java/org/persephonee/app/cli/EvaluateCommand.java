package org.persephonee.app.cli;

import org.persephonee.core.eval.PairedComparison;
import org.persephonee.core.export.ExitConfig;
import com.google.gson.annotations.SerializedName;
import org.persephonee.core.data.ImageDecodeException;
import org.persephonee.core.data.ImageImporter;
import org.persephonee.core.data.LabelSpace;
import org.persephonee.core.data.PersonalImage;
import org.persephonee.core.data.SkippedFile;
import org.persephonee.core.runtime.EarlyExitModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** {@code evaluate}: runs an exported bundle image by image on labelled data. */
@Command(name = "evaluate", customSynopsis = "persephonee evaluate --bundle DIR --data DIR [--against DIR] [--json]",
        description = "run an exported bundle on labelled images: accuracy, latency, exits")
public final class EvaluateCommand extends CliCommand {
    @Option(names = "--bundle", required = true, paramLabel = "DIR",
            description = "folder written by personalise (or the lab's Export)")
    Path bundle;

    @Option(names = "--data", required = true, paramLabel = "DIR",
            description = "labelled images: a persona folder (its test/ images are used when present) or class folders")
    Path data;

    @Option(names = "--json", description = "print {accuracy, mean_latency_ms, exit_share, ...}")
    boolean json;

    @Option(names = "--against", paramLabel = "DIR", description = "a second bundle run on the same images: is the "
            + "difference between the two more than the noise of this many images? (exact McNemar test)")
    Path against;

    @Option(names = "--final-only", description = "every image through the final exit (thresholds off): the latency "
            + "the early exits are measured against")
    boolean finalOnly;

    /** {@code evaluate --json}: the bundle run image by image, against what its export expected. */
    record Report(String bundle, int images, @SerializedName("evaluated_on") String evaluatedOn,
                  @SerializedName("unknown_class_images") Map<String, Integer> unknownClassImages, double accuracy,
                  @SerializedName("mean_latency_ms") double meanLatencyMs,
                  @SerializedName("median_latency_ms") double medianLatencyMs,
                  @SerializedName("exit_share") Map<String, Double> exitShare, ExitConfig.Expected expected,
                  @SerializedName("in_sample_images") Integer inSampleImages,
                  List<String> skipped, Against against) { }

    /** {@code --against}: the other bundle on the same images, and whether the difference could be noise. */
    record Against(String bundle, int images, double accuracy, @SerializedName("this_accuracy") double thisAccuracy,
                   @SerializedName("right_only_here") int rightOnlyHere,
                   @SerializedName("right_only_there") int rightOnlyThere, @SerializedName("p_value") double pValue,
                   String verdict) { }

    @Override
    protected int run(PrintStream out, PrintStream err) throws Exception {
        if (!Files.isDirectory(data)) {
            throw new CliException(data + ": no such folder");
        }
        // the --against bundle is opened first, so a wrong path fails before the images are run
        try (EarlyExitModel other = against == null ? null : EarlyExitModel.load(against);
             EarlyExitModel model = EarlyExitModel.load(bundle)) {
            if (finalOnly) {
                model.setThresholds(org.persephonee.core.eval.ThresholdSweep.OFF);
            }
            ImageImporter.Result imp = new ImageImporter(new LabelSpace(model.backbone().classNames()), null)
                    .importFolder(data, null, () -> false);
            List<PersonalImage> images = imp.dataset().test();
            String which = "test images";
            if (images.isEmpty()) {
                images = imp.dataset().labelled();
                which = "labelled images";
            }
            if (images.isEmpty()) {
                throw new CliException(data + ": no labelled images to evaluate on (use class folders or test/<class>/)");
            }
            // images of classes the bundle does not know can never be right: leave them out, and say so
            List<String> known = model.labels();
            java.util.Map<String, Integer> unknown = new java.util.TreeMap<>();
            List<PersonalImage> scored = new ArrayList<>();
            for (PersonalImage img : images) {
                if (known.stream().anyMatch(k -> org.persephonee.core.data.ClassNames.same(k, img.label()))) {
                    scored.add(img);
                } else {
                    unknown.merge(img.label(), 1, Integer::sum);
                }
            }
            if (scored.isEmpty()) {
                throw new CliException(data + ": none of the " + images.size() + " " + which + " is of a class this "
                        + "bundle knows (bundle: " + String.join(", ", known) + "; images: "
                        + String.join(", ", unknown.keySet()) + ")");
            }
            if (!unknown.isEmpty()) {
                err.println("warning: " + (images.size() - scored.size()) + " of the " + images.size() + " " + which
                        + " are of classes this bundle does not know and are left out of the accuracy: " + unknown
                        + " (the bundle knows " + String.join(", ", known) + ")");
            }
            images = scored;
            List<SkippedFile> skipped = new ArrayList<>(imp.skipped());
            List<String> stages = model.exitStages();
            int[] leave = new int[stages.size() + 1];
            int correct = 0;
            int n = 0;
            // per image: read, and right (for --against)
            boolean[] read = new boolean[images.size()];
            boolean[] right = new boolean[images.size()];
            int at = -1;
            double[] ms = new double[images.size()];
            // one image at a time on one thread, like the latency profile the bundle's expectations come from
            // the bundle's own training photos, where it carries them (resume.json): a figure on them is in sample
            org.persephonee.core.personalise.ResumeState trained = trainingPhotos(bundle);
            int inSample = 0;
            int threads = org.persephonee.core.engine.Engines.setThreads(1);
            try {
                for (PersonalImage img : images) {
                    at++;
                    EarlyExitModel.Prediction p;
                    try {
                        float[] x = org.persephonee.core.data.ImageDecoder.decode(img.path(), model.backbone().input());
                        if (trained != null && trained.trainedOn(x)) {
                            inSample++;
                        }
                        p = model.classify(x);
                    } catch (ImageDecodeException e) {
                        skipped.add(new SkippedFile(img.path(), e.problem()));
                        continue;
                    }
                    ms[n++] = p.millis();
                    leave[p.exitIndex()]++;
                    read[at] = true;
                    if (org.persephonee.core.data.ClassNames.same(p.label(), img.label())) {
                        correct++;
                        right[at] = true;
                    }
                }
            } finally {
                org.persephonee.core.engine.Engines.setThreads(threads);
            }
            if (n == 0) {
                throw new CliException("none of the " + images.size() + " images could be read");
            }
            double[] t = Arrays.copyOf(ms, n);
            double mean = Arrays.stream(t).average().orElse(Double.NaN);
            Arrays.sort(t);
            Map<String, Double> share = new LinkedHashMap<>();
            for (int i = 0; i < stages.size(); i++) {
                share.put(stages.get(i), leave[i] / (double) n);
            }
            share.put("final", leave[stages.size()] / (double) n);
            Against vs = other == null ? null : against(other, images, read, right, err);
            if (inSample > 0) {
                ExitConfig.Expected exp = model.config().expected;
                err.printf(Locale.ROOT, "warning: %d of the %d %s trained this bundle: on them the accuracy is in "
                        + "sample, so optimistic%s%n", inSample, n, which, exp != null && exp.evaluatedOn != null
                        ? String.format(Locale.ROOT, " (the run's own estimate: %.2f%% on %s)", 100 * exp.accuracy,
                        exp.evaluatedOn.split(" \\(")[0]) : "");
            }
            if (json) {
                out.println(Json.of(new Report(bundle.toString(), n, which, unknown, correct / (double) n, mean,
                        t[n / 2], share, model.config().expected, trained == null ? null : inSample,
                        skipped.stream().map(SkippedFile::toString).toList(), vs)));
            } else {
                out.printf(Locale.ROOT, "accuracy %.2f%% on %d %s; mean %.3f ms, median %.3f ms per image%n",
                        100.0 * correct / n, n, which, mean, t[n / 2]);
                share.forEach((k, v) -> out.printf(Locale.ROOT, "  left at %-8s %5.1f%%%n", k, 100 * v));
                skipped.forEach(s -> err.println("skipped " + s));
                if (vs != null) {
                    out.println("against " + against + ": " + vs.verdict());
                }
            }
        }
        return 0;
    }

    /** The training photos a bundle carries (its resume state), or null for a bundle without one. */
    private static org.persephonee.core.personalise.ResumeState trainingPhotos(Path bundle) {
        try {
            return org.persephonee.core.personalise.ResumeState.read(bundle);
        } catch (java.io.IOException | RuntimeException e) {
            return null;
        }
    }

    /** Runs the {@code --against} bundle on the images this one read and compares the two image by image. */
    private Against against(EarlyExitModel other, List<PersonalImage> images, boolean[] read, boolean[] right,
                            PrintStream err) throws Exception {
        List<Boolean> mine = new ArrayList<>();
        List<Boolean> theirs = new ArrayList<>();
        int unknownThere = 0;
        for (int i = 0; i < images.size(); i++) {
            if (!read[i]) {
                continue;
            }
            PersonalImage img = images.get(i);
            boolean known = other.labels().stream()
                    .anyMatch(k -> org.persephonee.core.data.ClassNames.same(k, img.label()));
            boolean ok = false;
            if (known) {
                ok = org.persephonee.core.data.ClassNames.same(other.classify(img.path()).label(), img.label());
            } else {
                unknownThere++;
            }
            mine.add(right[i]);
            theirs.add(ok);
        }
        if (unknownThere > 0) {
            err.println("warning: " + against + " does not know the class of " + unknownThere + " of the images; "
                    + "they count as wrong for it");
        }
        boolean[] a = new boolean[mine.size()];
        boolean[] b = new boolean[theirs.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = mine.get(i);
            b[i] = theirs.get(i);
        }
        PairedComparison c = PairedComparison.of(a, b);
        return new Against(against.toString(), c.images(), c.secondAccuracy(), c.firstAccuracy(), c.onlyFirst(),
                c.onlySecond(), c.pValue(), c.describe("images"));
    }
}
