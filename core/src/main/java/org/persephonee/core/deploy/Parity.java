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

    /** Compares the module's outputs with {@link EarlyExitModel}'s on the same images. */
    static TorchScriptExport.Result compare(EarlyExitModel m, List<float[]> images, Path parityJson) throws IOException {
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
        if (maxDiff > TorchScriptExport.TOLERANCE) {
            problem = String.format(Locale.ROOT, "probabilities differ by up to %.2e (tolerance %.0e)", maxDiff,
                    TorchScriptExport.TOLERANCE);
        } else if (!bad.isEmpty()) {
            problem = bad.size() + " decision(s) differ: " + String.join("; ", bad.subList(0, Math.min(3, bad.size())));
        }
        return new TorchScriptExport.Result(null, images.size(), maxDiff, same, ties, problem);
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
