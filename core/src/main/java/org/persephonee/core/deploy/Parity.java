package org.persephonee.core.deploy;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import org.persephonee.core.runtime.EarlyExitModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The parity check: the module's every-exit probabilities and decisions against {@link EarlyExitModel}'s. */
final class Parity {

    private Parity() { }

    /** Compares the module's outputs, as the exporter script wrote them, with {@link EarlyExitModel}'s. */
    static TorchScriptExport.Result compare(EarlyExitModel m, List<float[]> images, Path parityJson) throws IOException {
        JsonObject o = com.google.gson.JsonParser.parseString(Files.readString(parityJson)).getAsJsonObject();
        return compare(m, images, o.getAsJsonArray("images"), parityJson.toString(), false);
    }

    /**
     * Compares the module's outputs on {@code images} with {@link EarlyExitModel}'s.
     *
     * @param rows per image: {@code exit}, {@code label}, {@code probs} and {@code logits} (one array per exit)
     * @param source where the rows come from, for messages
     * @param absoluteLogits logits compared as they are (the same libtorch on both sides), or as a share of their row's
     *                       scale (another PyTorch build, which rounds float32 sums in its own order)
     */
    static TorchScriptExport.Result compare(EarlyExitModel m, List<float[]> images, JsonArray rows, String source,
                                            boolean absoluteLogits) throws IOException {
        if (rows == null || rows.size() != images.size()) {
            throw new IOException(source + ": " + (rows == null ? "no images" : rows.size() + " results for "
                    + images.size() + " images"));
        }
        double[] th = m.thresholds();
        double maxDiff = 0;
        double maxLogitDiff = 0;
        int same = 0;
        int ties = 0;
        List<String> bad = new ArrayList<>();
        for (int i = 0; i < images.size(); i++) {
            JsonObject r = rows.get(i).getAsJsonObject();
            float[][] javaP = m.allProbabilities(images.get(i));
            maxDiff = Math.max(maxDiff, maxAbsDiff(javaP, r.getAsJsonArray("probs"), source));
            float[][] javaZ = m.allLogits(images.get(i));
            maxLogitDiff = Math.max(maxLogitDiff, absoluteLogits
                    ? maxAbsDiff(javaZ, r.getAsJsonArray("logits"), source)
                    : maxRelDiff(javaZ, r.getAsJsonArray("logits"), source));
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
        if (maxLogitDiff > TorchScriptExport.TOLERANCE) {
            problem = String.format(Locale.ROOT, "logits differ by up to %.2e%s (tolerance %.0e)", maxLogitDiff,
                    absoluteLogits ? " in DJL's libtorch" : " of their scale", TorchScriptExport.TOLERANCE);
        } else if (maxDiff > TorchScriptExport.TOLERANCE) {
            problem = String.format(Locale.ROOT, "probabilities differ by up to %.2e (tolerance %.0e)", maxDiff,
                    TorchScriptExport.TOLERANCE);
        } else if (!bad.isEmpty()) {
            problem = bad.size() + " decision(s) differ: " + String.join("; ", bad.subList(0, Math.min(3, bad.size())));
        }
        return new TorchScriptExport.Result(null, images.size(), maxDiff, maxLogitDiff, same, ties, problem, null);
    }

    /** Largest difference between Java's rows and the module's (one JSON array per exit). */
    private static double maxAbsDiff(float[][] java, JsonArray module, String file) throws IOException {
        if (module == null || module.size() != java.length) {
            throw new IOException(file + ": " + (module == null ? "no outputs" : module.size() + " exits, not "
                    + java.length));
        }
        double d = 0;
        for (int e = 0; e < java.length; e++) {
            JsonArray row = module.get(e).getAsJsonArray();
            if (row.size() != java[e].length) {
                throw new IOException(file + ": exit " + e + " has " + row.size() + " outputs, not " + java[e].length);
            }
            for (int c = 0; c < java[e].length; c++) {
                d = Math.max(d, Math.abs(java[e][c] - row.get(c).getAsDouble()));
            }
        }
        return d;
    }

    /**
     * Largest logit difference, each exit's row scaled by its largest magnitude when that is above 1: two runtimes
     * (DJL's libtorch and the deployment's) round float32 sums in their own order, and what differs is a share of the
     * values summed, not a fixed amount (MobileNetV2 on night-owl: up to 3.7e-4 apart, 3.8e-6 of the row's scale).
     */
    private static double maxRelDiff(float[][] java, JsonArray module, String file) throws IOException {
        double d = 0;
        for (int e = 0; e < java.length; e++) {
            double scale = 1;
            for (float v : java[e]) {
                scale = Math.max(scale, Math.abs(v));
            }
            JsonArray one = new JsonArray();
            one.add(module.get(e));
            d = Math.max(d, maxAbsDiff(new float[][] {java[e]}, one, file) / scale);
        }
        return d;
    }

    /** True when an exit up to {@code upTo} has a confidence within {@link #TorchScriptExport.NEAR_TIE} of its threshold. */
    private static boolean nearTie(EarlyExitModel m, float[][] p, double[] th, int upTo) {
        for (int e = 0; e <= upTo && e < th.length; e++) {
            if (Math.abs(m.confidence().of(p[e]) - th[e]) <= TorchScriptExport.NEAR_TIE) {
                return true;
            }
        }
        return false;
    }
}
