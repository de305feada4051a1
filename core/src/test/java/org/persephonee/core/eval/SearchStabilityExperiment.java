package org.persephonee.core.eval;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.data.ImageImporter;
import org.persephonee.core.data.LabelSpace;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;
import org.persephonee.core.personalise.LabelRegime;
import org.persephonee.core.personalise.PersonalisationConfig;
import org.persephonee.core.personalise.PersonalisationJob;
import org.persephonee.core.personalise.PersonalisationResult;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Measurement, not a test: how much the operating point's speed-up moves when the measured latencies move by
 * the noise seen between identical runs (each block's time times a log-normal factor). Args: backbone dir,
 * persona dir, labels (all|none|fraction), noise sigma, draws.
 */
public final class SearchStabilityExperiment {
    public static void main(String[] a) throws Exception {
        try (Backbone bb = BackboneIO.load(Path.of(a[0]))) {
            var ds = new ImageImporter(new LabelSpace(bb.classNames()), bb.input())
                    .importFolder(Path.of(a[1]), null, () -> false).dataset();
            PersonalisationConfig cfg = PersonalisationConfig.builder().optLabels(LabelRegime.parse(a[2])).optSeed(42)
                    .setPlacements(ExitPlacement.auto(bb, HeadSpec.parse("grid"))).build();
            double sigma = Double.parseDouble(a[3]);
            int draws = Integer.parseInt(a[4]);
            try (PersonalisationResult r = new PersonalisationJob(bb, ds, cfg).run(PersonalisationJob.SILENT, () -> false)) {
                var heads = new java.util.ArrayList<>(r.heads());
                if (r.finalHead() != null) {
                    heads.add(r.finalHead());
                }
                if (System.getenv("EXP_GC") != null) {
                    System.gc();
                }
                LatencyProfile base = LatencyProfile.measure(bb, heads, 30);
                if (draws < 0) {
                    for (int k = 0; k < 3; k++) {
                        LatencyProfile p = k == 0 ? base : LatencyProfile.measure(bb, heads, 30);
                        System.out.printf("profile %d: stem %.4f stem:grid %.4f block1 %.4f classifier %.4f %s%n", k,
                                p.stageMs().get("stem"), p.headMs().get("stem:grid"), p.stageMs().get("block1"),
                                p.classifierMs(), p.source().replaceAll(".*pinned", "pinned"));
                    }
                    return;
                }
                Random rnd = new Random(1);
                for (int d = 0; d <= draws; d++) {
                    Map<String, Double> st = new LinkedHashMap<>();
                    Map<String, Double> hd = new LinkedHashMap<>();
                    double f = d == 0 ? 0 : sigma;
                    base.stageMs().forEach((k, v) -> st.put(k, v * Math.exp(f * rnd.nextGaussian())));
                    base.headMs().forEach((k, v) -> hd.put(k, v * Math.exp(f * rnd.nextGaussian())));
                    LatencyProfile p = LatencyProfile.of("draw" + d, st, hd, base.classifierMs() * Math.exp(f * rnd.nextGaussian()));
                    Evaluation ev = new Evaluation(bb, r, p, Confidence.MAX_SOFTMAX);
                    long t0 = System.nanoTime();
                    OperatingPoint.Selection sel = ev.selection(1.0, false, 42);
                    double secs = (System.nanoTime() - t0) / 1e9;
                    OperatingPoint.Choice c = sel.choice();
                    OperatingPoint.Choice on = sel.chosenOn();
                    // speed-up of the chosen cascade under the base (unperturbed) profile: what a user sees
                    Evaluation ev0 = new Evaluation(bb, r, base, Confidence.MAX_SOFTMAX);
                    CascadeResult atBase = ev0.cascade().evaluate(c.cascade().exits(), c.cascade().thresholds());
                    double baseSpeed = ev0.cascade().evaluate(new int[0], new double[0]).meanMs() / atBase.meanMs();
                    System.out.printf("draw %2d: %-20s val %.3f at %.2fx | test %.4f at %.2fx (base profile %.2fx) macs %.2fx exits %s th %s  [%.2f s]%n",
                            d, sel.search().display(), on == null ? Double.NaN : on.cascade().accuracy(),
                            on == null ? Double.NaN : on.speedup(), c.cascade().accuracy(), c.speedup(), baseSpeed,
                            c.macSpeedup(), java.util.Arrays.toString(c.cascade().exits()),
                            java.util.Arrays.toString(c.cascade().thresholds()), secs);
                }
            }
        }
    }
}
