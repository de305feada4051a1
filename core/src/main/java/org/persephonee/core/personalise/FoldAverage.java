package org.persephonee.core.personalise;

import org.persephonee.core.exits.ExitHead;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The heads a run deploys as the mean of the cross-fitted folds' heads (bagging). The cross-fitting trains the
 * whole head training once per fold, on all training images but that fold's, and its predictions are what every
 * choice is made on (thresholds, exits, budget, bar, averaged final exit); the heads the run then deploys used to
 * be trained once more on all the images, so the cascade that ran was not the one validated. The mean of the fold
 * heads is the validated heads, averaged (bagging): over 54 runs on the personas' reserved images it raised the
 * operating points on both backbones, mostly through better late heads (README design table, <i>deployed heads</i>).
 * <p>
 * Only heads that are a linear layer after pooling (grid, linear and global-pool heads, and the re-fitted final exit)
 * can be averaged by their weights: their mean logits are the logits of the mean weights, so the deployed head
 * costs what one head costs. Heads with hidden layers (conv, MLP) keep the weights trained on all the images.
 */
final class FoldAverage {
    /** Per exit index: summed {weights, bias}, or null when the head cannot be averaged. */
    private final List<float[][]> exits = new ArrayList<>();
    private float[][] finalExit;
    private int exitFolds;
    private int finalFolds;
    private boolean finalAveraged;
    /** The weights {@link #apply} replaced, by exit key and {@link PersonalisationResult#FINAL_KEY}. */
    private final Map<String, float[][]> replaced = new HashMap<>();

    /** Adds one fold's exits (placement order, the same list every fold). */
    void addExits(List<ExitHead> heads) {
        if (exitFolds == 0) {
            for (ExitHead h : heads) {
                exits.add(h.probePrefix() == null ? null : zeros(h.linear()));
            }
        }
        for (int j = 0; j < heads.size(); j++) {
            if (exits.get(j) != null) {
                add(exits.get(j), heads.get(j).linear());
            }
        }
        exitFolds++;
    }

    /** Adds one fold's re-fitted final exit (a linear head over the last stage's pooled grid). */
    void addFinal(ExitHead head) {
        if (head.probePrefix() == null) {
            return;
        }
        if (finalExit == null) {
            finalExit = zeros(head.linear());
        }
        add(finalExit, head.linear());
        finalFolds++;
    }

    /**
     * Gives the run's heads the mean of the folds' weights where they can take it.
     *
     * @param heads the run's exits, in the order the folds' were added
     * @param finalHead the run's re-fitted final exit, or null to leave it as it is
     * @return the exits (indices into {@code heads}) that now carry the mean
     */
    List<Integer> apply(List<ExitHead> heads, ExitHead finalHead) {
        List<Integer> done = new ArrayList<>();
        if (exitFolds > 0 && exits.size() == heads.size()) {
            for (int j = 0; j < heads.size(); j++) {
                if (exits.get(j) != null) {
                    float[][] m = mean(exits.get(j), exitFolds);
                    replaced.put(heads.get(j).key(), heads.get(j).linear());
                    heads.get(j).setLinear(m[0], m[1]);
                    done.add(j);
                }
            }
        }
        if (finalHead != null && finalFolds > 0) {
            float[][] m = mean(finalExit, finalFolds);
            replaced.put(PersonalisationResult.FINAL_KEY, finalHead.linear());
            finalHead.setLinear(m[0], m[1]);
            finalAveraged = true;
        }
        return done;
    }

    /**
     * The weights the averaged heads had before {@link #apply} (as trained on all the images), by exit key and
     * {@link PersonalisationResult#FINAL_KEY}: what a later run carries on training from.
     */
    Map<String, float[][]> replaced() { return Map.copyOf(replaced); }

    /** Whether {@link #apply} changed the re-fitted final exit. */
    boolean finalAveraged() { return finalAveraged; }

    /** Folds whose exits were added. */
    int folds() { return exitFolds; }

    private static float[][] zeros(float[][] like) {
        return new float[][] {new float[like[0].length], new float[like[1].length]};
    }

    private static void add(float[][] sum, float[][] wb) {
        for (int p = 0; p < 2; p++) {
            if (sum[p].length != wb[p].length) {
                throw new IllegalStateException("a fold's head has " + wb[p].length + " weights, the first had "
                        + sum[p].length);
            }
            for (int i = 0; i < wb[p].length; i++) {
                sum[p][i] += wb[p][i];
            }
        }
    }

    private static float[][] mean(float[][] sum, int n) {
        float[][] m = new float[2][];
        for (int p = 0; p < 2; p++) {
            m[p] = new float[sum[p].length];
            for (int i = 0; i < m[p].length; i++) {
                m[p][i] = sum[p][i] / n;
            }
        }
        return m;
    }
}
