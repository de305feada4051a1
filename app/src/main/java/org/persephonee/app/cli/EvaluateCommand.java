package org.persephonee.app.cli;

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
@Command(name = "evaluate", customSynopsis = "persephonee evaluate --bundle DIR --data DIR [--json]",
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

    @Option(names = "--final-only", description = "every image through the final exit (thresholds off): the latency "
            + "the early exits are measured against")
    boolean finalOnly;

    /** {@code evaluate --json}: the bundle run image by image, against what its export expected. */
    record Report(String bundle, int images, @SerializedName("evaluated_on") String evaluatedOn,
                  @SerializedName("unknown_class_images") Map<String, Integer> unknownClassImages, double accuracy,
                  @SerializedName("mean_latency_ms") double meanLatencyMs,
                  @SerializedName("median_latency_ms") double medianLatencyMs,
                  @SerializedName("exit_share") Map<String, Double> exitShare, ExitConfig.Expected expected,
                  List<String> skipped) { }

    @Override
    protected int run(PrintStream out, PrintStream err) throws Exception {
        if (!Files.isDirectory(data)) {
            throw new CliException(data + ": no such folder");
        }
        try (EarlyExitModel model = EarlyExitModel.load(bundle)) {
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
            double[] ms = new double[images.size()];
            // one image at a time on one thread, like the latency profile the bundle's expectations come from
            int threads = org.persephonee.core.engine.Engines.setThreads(1);
            try {
                for (PersonalImage img : images) {
                    EarlyExitModel.Prediction p;
                    try {
                        p = model.classify(img.path());
                    } catch (ImageDecodeException e) {
                        skipped.add(new SkippedFile(img.path(), e.problem()));
                        continue;
                    }
                    ms[n++] = p.millis();
                    leave[p.exitIndex()]++;
                    if (org.persephonee.core.data.ClassNames.same(p.label(), img.label())) {
                        correct++;
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
            if (json) {
                out.println(Json.of(new Report(bundle.toString(), n, which, unknown, correct / (double) n, mean,
                        t[n / 2], share, model.config().expected, skipped.stream().map(SkippedFile::toString).toList())));
            } else {
                out.printf(Locale.ROOT, "accuracy %.2f%% on %d %s; mean %.3f ms, median %.3f ms per image%n",
                        100.0 * correct / n, n, which, mean, t[n / 2]);
                share.forEach((k, v) -> out.printf(Locale.ROOT, "  left at %-8s %5.1f%%%n", k, 100 * v));
                skipped.forEach(s -> err.println("skipped " + s));
            }
        }
        return 0;
    }
}
