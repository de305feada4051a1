package org.persephonee.core.personalise;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.persephonee.core.engine.Engines;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The deployed heads as the mean of the folds' heads: the same logits as averaging the folds' logits. */
class FoldAverageTest {
    private static final long[] SHAPE = {16, 8, 8};
    private static final int CLASSES = 3;

    @Test
    void anAveragedHeadGivesTheMeanOfTheFoldsLogitsAndAConvHeadKeepsItsOwnWeights() throws Exception {
        Engines.pytorch();
        Random rnd = new Random(5);
        List<ExitHead> all = new ArrayList<>();
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            FoldAverage avg = new FoldAverage();
            List<List<ExitHead>> folds = new ArrayList<>();
            List<ExitHead> foldFinals = new ArrayList<>();
            for (int f = 0; f < 3; f++) {
                List<ExitHead> fold = List.of(head("block1", "grid", rnd, all), head("block2", "conv", rnd, all));
                folds.add(fold);
                avg.addExits(fold);
                ExitHead fin = head("block3", "grid2", rnd, all);
                foldFinals.add(fin);
                avg.addFinal(fin);
            }
            List<ExitHead> deployed = List.of(head("block1", "grid", rnd, all), head("block2", "conv", rnd, all));
            ExitHead deployedFinal = head("block3", "grid2", rnd, all);
            NDArray x = m.randomNormal(deployed.get(0).batchShape(5));
            float[] convBefore = deployed.get(1).forward(x, false).toFloatArray();

            List<Integer> done = avg.apply(deployed, deployedFinal);

            assertEquals(List.of(0), done, "only the grid exit can be averaged by its weights");
            assertTrue(avg.finalAveraged());
            assertEquals(java.util.Set.of("block1:grid", PersonalisationResult.FINAL_KEY), avg.replaced().keySet(),
                    "what a later run carries on from: the averaged heads' own weights");
            assertEquals(3, avg.folds());
            assertArrayEquals(meanLogits(folds.stream().map(l -> l.get(0)).toList(), x),
                    deployed.get(0).forward(x, false).toFloatArray(), 1e-4f);
            assertArrayEquals(meanLogits(foldFinals, x), deployedFinal.forward(x, false).toFloatArray(), 1e-4f);
            assertArrayEquals(convBefore, deployed.get(1).forward(x, false).toFloatArray(), 0f,
                    "a head with hidden layers keeps the weights it was trained with");
        } finally {
            all.forEach(ExitHead::close);
        }
    }

    @Test
    void nothingAddedLeavesTheHeadsAlone() throws Exception {
        Engines.pytorch();
        List<ExitHead> all = new ArrayList<>();
        try {
            ExitHead h = head("block1", "grid", new Random(1), all);
            float[][] before = h.linear();
            FoldAverage avg = new FoldAverage();
            assertEquals(List.of(), avg.apply(List.of(h), null));
            assertFalse(avg.finalAveraged());
            assertTrue(avg.replaced().isEmpty());
            assertArrayEquals(before[0], h.linear()[0], 0f);
        } finally {
            all.forEach(ExitHead::close);
        }
    }

    private static float[] meanLogits(List<ExitHead> heads, NDArray x) {
        float[] sum = null;
        for (ExitHead h : heads) {
            float[] z = h.forward(x, false).toFloatArray();
            if (sum == null) {
                sum = new float[z.length];
            }
            for (int i = 0; i < z.length; i++) {
                sum[i] += z[i] / heads.size();
            }
        }
        return sum;
    }

    /** A head with seeded random weights (a different head for every call). */
    private static ExitHead head(String stage, String spec, Random rnd, List<ExitHead> all) {
        ExitHead h = new ExitHead(new ExitPlacement(stage, HeadSpec.parse(spec)), SHAPE, CLASSES);
        all.add(h);
        h.initialize();
        float[][] wb = h.linear();
        for (float[] p : wb) {
            for (int i = 0; i < p.length; i++) {
                p[i] = (float) rnd.nextGaussian();
            }
        }
        h.setLinear(wb[0], wb[1]);
        return h;
    }
}
