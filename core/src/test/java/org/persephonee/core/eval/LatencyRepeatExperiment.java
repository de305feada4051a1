package org.persephonee.core.eval;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Measurement, not a test: several latency profiles in one process with untrained auto exits, to tell warm-up
 * from between-process differences (SearchStabilityExperiment with draws -1 does the same after a real training
 * run). Args: backbone dir, profiles, rounds.
 */
public final class LatencyRepeatExperiment {
    public static void main(String[] a) throws Exception {
        try (Backbone bb = BackboneIO.load(Path.of(a[0]))) {
            List<ExitHead> heads = new ArrayList<>();
            for (ExitPlacement p : ExitPlacement.auto(bb, HeadSpec.parse("grid"))) {
                ExitHead h = new ExitHead(p, bb.stage(p.stage()).outputShape(), 5);
                h.initialize();
                heads.add(h);
            }
            int n = Integer.parseInt(a[1]);
            int rounds = Integer.parseInt(a[2]);
            for (int k = 0; k < n; k++) {
                long t0 = System.nanoTime();
                LatencyProfile p = LatencyProfile.measure(bb, heads, rounds);
                double chain = 0;
                for (double v : p.stageMs().values()) {
                    chain += v;
                }
                System.out.printf("profile %d: stem %.4f stem:grid %.4f block1 %.4f classifier %.4f chain %.4f (%.1f s) %s%n", k,
                        p.stageMs().get("stem"), p.headMs().get("stem:grid"), p.stageMs().get("block1"),
                        p.classifierMs(), chain, (System.nanoTime() - t0) / 1e9, p.source().replaceAll(".*pinned", "pinned"));
            }
        }
    }
}
