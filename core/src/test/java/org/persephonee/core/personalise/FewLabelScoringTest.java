package org.persephonee.core.personalise;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * With few labels, choices are scored by agreement with the head that sets the bar, not with the late ensemble:
 * an unlabelled image a cascade classifies otherwise than the bar head counts as a loss, so the drop it may take
 * against that head is bounded whoever is right. The bar is the head the late ensemble rates best, or the final
 * exit when the labels do not show that head better. Since session 31 this holds whatever the number of labels, as long
 * as some photo is unlabelled.
 */
class FewLabelScoringTest {
    private static final int A = 0;
    private static final int B = 1;
    private static final int C = 2;

    private static float[] sure(int c) {
        float[] p = {0.05f, 0.05f, 0.05f};
        p[c] = 0.9f;
        return p;
    }

    /**
     * 100 unlabelled images; two early exits that are always wrong (C); three late heads that agree (A) except on
     * a group each: block3 says B on 10 images, block4 on 20 others, the final exit on 30 others. The late
     * ensemble says A everywhere; block3 agrees with it most (90 %) and sets the bar.
     */
    private static EvalPredictions predictions(int labelled) {
        return predictions(labelled, 30);
    }

    /** As above, with {@code labelled} images labelled A from image {@code from} on. */
    private static EvalPredictions predictions(int labelled, int from) {
        return pattern(100, from, from + labelled);
    }

    /** {@code n} images in repeats of the pattern above (image i as image i % 100), images from..to-1 labelled A. */
    private static EvalPredictions pattern(int n, int from, int to) {
        List<float[][]> exits = new ArrayList<>();
        for (int e = 0; e < 4; e++) {
            exits.add(new float[n][]);
        }
        float[][] fin = new float[n][];
        int[] truth = new int[n];
        Arrays.fill(truth, -1);
        for (int i = 0; i < n; i++) {
            int k = i % 100;
            exits.get(0)[i] = sure(C);
            exits.get(1)[i] = sure(C);
            exits.get(2)[i] = sure(k < 10 ? B : A);
            exits.get(3)[i] = sure(k >= 10 && k < 30 ? B : A);
            fin[i] = sure(k >= 30 && k < 60 ? B : A);
            if (i >= from && i < to) {
                truth[i] = A;
            }
        }
        return new EvalPredictions(List.of("block1", "block2", "block3", "block4"), exits, fin, truth, 3);
    }

    @Test
    void unlabelledImagesAreScoredByAgreementWithTheBarHead() {
        EvalPredictions sel = predictions(0).forSelection();
        // the bar head is right on every unlabelled image; every other head as often as it agrees with it
        assertEquals(1.0, sel.accuracy(sel.exit(2)), 1e-9, "block3 sets the bar");
        assertEquals(0.70, sel.accuracy(sel.exit(3)), 1e-9, "block4 disagrees with block3 on 10 + 20 images");
        assertEquals(0.60, sel.accuracy(sel.finalExit()), 1e-9, "the final exit on 10 + 30");
        assertEquals(0.0, sel.accuracy(sel.exit(0)), 1e-9);
    }

    @Test
    void labelsStayTheTruthWhereGiven() {
        // 20 labelled images (A, where block3 says A and the final exit B): block3 beats the final exit on them and
        // keeps the bar; scored by their labels, the 80 others by agreement with block3
        EvalPredictions sel = predictions(20).forSelection();
        assertEquals(1.0, sel.accuracy(sel.exit(2)), 1e-9);
        assertEquals(0.70, sel.accuracy(sel.exit(3)), 1e-9);
        assertEquals(0.60, sel.accuracy(sel.finalExit()), 1e-9, "wrong on its 20 labelled + 10 + 10 unlabelled");
    }

    @Test
    void theFinalExitKeepsTheBarUnlessTheLabelsSayAnExitIsBetter() {
        // 20 labelled images both get right (A, images 60-79): agreement with the late ensemble still rates block3
        // best, but the labels do not show it better than the final exit, which learnt from them alone: the final
        // exit sets the bar and the unlabelled images are scored by agreement with it
        EvalPredictions sel = predictions(20, 60).forSelection();
        assertEquals(1.0, sel.accuracy(sel.finalExit()), 1e-9, "the final exit sets the bar");
        // block3 disagrees with it on 10 + 30 of the 80 unlabelled images
        assertEquals(0.60, sel.accuracy(sel.exit(2)), 1e-9);
        // one labelled image the final exit gets wrong and block3 right hands the bar back to block3
        EvalPredictions p = predictions(20, 60);
        int[] truth = p.truth().clone();
        truth[30] = A;
        EvalPredictions one = new EvalPredictions(p.stages(), p.exits(), p.finalExit(), truth, 3).forSelection();
        assertEquals(1.0, one.accuracy(one.exit(2)), 1e-9, "block3 sets the bar again");
    }

    @Test
    void aHundredLabelsAndMoreDoNotScoreAloneWhileSomePhotosAreUnlabelled() {
        // 400 images in four repeats of the pattern above; 150 labelled A (images 100-249), 250 unlabelled. Scored
        // by the labels alone (before session 31, from 100 labels on) block3 would get 130 / 150 and the final
        // exit 100 / 150; the unlabelled photos now count by agreeing with block3, which sets the bar
        EvalPredictions p = pattern(400, 100, 250);
        EvalPredictions sel = p.forSelection();
        assertEquals(380 / 400.0, sel.accuracy(sel.exit(2)), 1e-9, "block3: 130 labelled right, every other agrees");
        assertEquals(260 / 400.0, sel.accuracy(sel.finalExit()), 1e-9,
                "the final exit: 100 labelled right, and it disagrees with block3 on 90 of the 250 unlabelled");
    }

    @Test
    void everyPhotoLabelledIsScoredByItsLabels() {
        EvalPredictions p = predictions(0);
        int n = p.size();
        int[] truth = new int[n];
        Arrays.fill(truth, A);
        EvalPredictions all = new EvalPredictions(p.stages(), p.exits(), p.finalExit(), truth, 3);
        EvalPredictions sel = all.forSelection();
        assertEquals(0.90, sel.accuracy(sel.exit(2)), 1e-9, "labels, not agreement, with " + n + " of them");
        assertEquals(0.70, sel.accuracy(sel.finalExit()), 1e-9);
    }
}
