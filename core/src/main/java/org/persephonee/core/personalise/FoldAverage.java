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
    /** Summed {weights, bias} and the folds added, by exit key and {@link PersonalisationResult#FINAL_KEY}. */
    private final Map<String, float[][]> sums = new HashMap<>();
    private final Map<String, Integer> counts = new HashMap<>();
    /** Every fold's {weights, bias}, in fold order, by the same keys: what a later update carries on ({@link #folds}). */
    private final Map<String, List<float[][]>> perFold = new HashMap<>();
    /** Each training photo's fold, or null when not given. */
    private int[] assignment;
    /** The weights {@link #apply} replaced, by the same keys. */
    private final Map<String, float[][]> replaced = new HashMap<>();
    private int folds;

    /** Adds one fold's exits. */
    void addExits(List<ExitHead> heads) {
        heads.forEach(h -> add(h.key(), h));
        folds++;
    }

    /** Adds one fold's re-fitted final exit (a linear head over the last stage's pooled grid). */
    void addFinal(ExitHead head) {
        add(PersonalisationResult.FINAL_KEY, head);
    }

    /**
     * Keeps, for a later update only, the final heads the re-fit check fitted fold by fold when it kept the backbone's
     * classifier: the update's check then starts from them (warm) instead of from the classifier's rows. Nothing is
     * averaged or deployed from them.
     */
    void addCheckedFinals(List<ExitHead> folds) {
        for (ExitHead h : folds) {
            if (h.probePrefix() != null) {
                perFold.computeIfAbsent(PersonalisationResult.FINAL_KEY, k -> new ArrayList<>()).add(h.linear());
            }
        }
    }

    /**
     * Gives the run's heads the mean of the folds' weights where they can take it.
     *
     * @param heads the run's exits
     * @param finalHead the run's re-fitted final exit, or null to leave it as it is
     * @return the exits (indices into {@code heads}) that now carry the mean
     */
    List<Integer> apply(List<ExitHead> heads, ExitHead finalHead) {
        List<Integer> done = new ArrayList<>();
        for (int j = 0; j < heads.size(); j++) {
            if (replace(heads.get(j).key(), heads.get(j))) {
                done.add(j);
            }
        }
        if (finalHead != null) {
            replace(PersonalisationResult.FINAL_KEY, finalHead);
        }
        return done;
    }

    /**
     * The weights the averaged heads had before {@link #apply} (as trained on all the images), by exit key and
     * {@link PersonalisationResult#FINAL_KEY}: what a later run carries on training from.
     */
    Map<String, float[][]> replaced() { return Map.copyOf(replaced); }

    /** Whether {@link #apply} changed the re-fitted final exit. */
    boolean finalAveraged() { return replaced.containsKey(PersonalisationResult.FINAL_KEY); }

    /** Folds whose exits were added. */
    int folds() { return folds; }

    /** Records which fold each training photo was held out in. */
    void assignment(int[] fold) { this.assignment = fold.clone(); }

    /**
     * The folds themselves, for a later update to carry on (each fold's heads warm-started and trained on their own
     * photos, so the predictions of the photos it holds out stay held out): null when no assignment was recorded.
     */
    PersonalisationResult.Folds folds(int k) {
        if (assignment == null) {
            return null;
        }
        Map<String, List<float[][]>> w = new HashMap<>();
        perFold.forEach((key, list) -> {
            if (list.size() == k) {
                w.put(key, List.copyOf(list));
            }
        });
        return new PersonalisationResult.Folds(assignment, w);
    }

    private void add(String key, ExitHead h) {
        if (h.probePrefix() == null) {
            return;
        }
        float[][] wb = h.linear();
        float[][] sum = sums.computeIfAbsent(key, k -> new float[][] {new float[wb[0].length], new float[wb[1].length]});
        for (int p = 0; p < 2; p++) {
            if (sum[p].length != wb[p].length) {
                throw new IllegalStateException(key + ": a fold's head has " + wb[p].length + " weights, the first had "
                        + sum[p].length);
            }
            for (int i = 0; i < wb[p].length; i++) {
                sum[p][i] += wb[p][i];
            }
        }
        counts.merge(key, 1, Integer::sum);
        perFold.computeIfAbsent(key, k -> new ArrayList<>()).add(wb);
    }

    /** The mean {weights, bias} of the folds added under {@code key}, or null when none were. */
    float[][] mean(String key) {
        float[][] sum = sums.get(key);
        if (sum == null) {
            return null;
        }
        int n = counts.get(key);
        float[][] mean = new float[2][];
        for (int p = 0; p < 2; p++) {
            mean[p] = new float[sum[p].length];
            for (int i = 0; i < mean[p].length; i++) {
                mean[p][i] = sum[p][i] / n;
            }
        }
        return mean;
    }

    private boolean replace(String key, ExitHead h) {
        float[][] mean = mean(key);
        if (mean == null) {
            return false;
        }
        replaced.put(key, h.linear());
        h.setLinear(mean[0], mean[1]);
        return true;
    }
}
