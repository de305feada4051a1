package org.persephonee.core.review;

import org.junit.jupiter.api.Test;
import org.persephonee.core.data.PersonalImage;
import org.persephonee.core.personalise.EvalPredictions;
import org.persephonee.core.personalise.PersonalisationResult;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The review order on made-up out-of-fold predictions: three exits, four classes, one class rare. */
class ReviewQueueTest {
    private static final List<String> CLASSES = List.of("Bag", "Coat", "Dress", "Shirt");

    /** Rows 0..n-1; every fifth is labelled; class 3 is predicted for only 4 photos. */
    private static EvalPredictions predictions(int n, Random rnd) {
        List<float[][]> exits = new ArrayList<>();
        for (int e = 0; e < 3; e++) {
            exits.add(new float[n][]);
        }
        float[][] fin = new float[n][];
        int[] truth = new int[n];
        for (int i = 0; i < n; i++) {
            int cls = i % 25 == 3 ? 3 : i % 3;
            float conf = 0.3f + 0.7f * rnd.nextFloat();
            for (int e = 0; e < 3; e++) {
                exits.get(e)[i] = probs(e == 0 && i % 7 == 0 ? (cls + 1) % 4 : cls, conf);
            }
            fin[i] = probs(cls, conf);
            truth[i] = i % 5 == 0 ? cls : -1;
        }
        return new EvalPredictions(List.of("block1", "block2", "block3"), exits, fin, truth, 4);
    }

    private static float[] probs(int cls, float conf) {
        float[] p = new float[4];
        java.util.Arrays.fill(p, (1 - conf) / 3);
        p[cls] = conf;
        return p;
    }

    private static List<PersonalImage> images(int n) {
        List<PersonalImage> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(new PersonalImage(Path.of("photo_" + i + ".png"), null, PersonalImage.Split.TRAIN));
        }
        return out;
    }

    private static List<ReviewQueue.Candidate> rank(ReviewQueue.Ranking how, long seed) {
        return ReviewQueue.rank(predictions(100, new Random(1)), images(100), CLASSES, new int[] {1},
                new double[] {0.9}, how, seed);
    }

    @Test
    void onlyUnlabelledPhotosAreQueuedEachOnce() {
        for (ReviewQueue.Ranking how : ReviewQueue.Ranking.values()) {
            List<ReviewQueue.Candidate> q = rank(how, 7);
            assertEquals(80, q.size(), how + ": the 20 labelled photos are not asked again");
            Set<Integer> rows = new HashSet<>();
            q.forEach(c -> assertTrue(rows.add(c.row()), how + " repeats row " + c.row()));
            assertTrue(q.stream().noneMatch(c -> c.row() % 5 == 0), how + " queued a labelled photo");
        }
    }

    @Test
    void marginPutsTheLeastDecidedFirst() {
        List<ReviewQueue.Candidate> q = rank(ReviewQueue.Ranking.MARGIN, 7);
        for (int k = 1; k < q.size(); k++) {
            assertTrue(q.get(k - 1).score() <= q.get(k).score(), "margin order broken at " + k);
        }
        assertEquals(3, q.get(0).guesses().size(), "top-3 guesses");
        assertTrue(q.get(0).guesses().get(0).confidence() >= q.get(0).guesses().get(1).confidence());
    }

    @Test
    void balancedAsksAboutEveryPredictedClassEarly() {
        List<ReviewQueue.Candidate> balanced = rank(ReviewQueue.Ranking.BALANCED, 7);
        Set<String> firstFour = new HashSet<>();
        balanced.subList(0, 4).forEach(c -> firstFour.add(c.guesses().get(0).label()));
        assertEquals(new HashSet<>(CLASSES), firstFour, "one photo of each class the ensemble predicts, the rare "
                + "Shirt included, before a second of any");
        List<ReviewQueue.Candidate> margin = rank(ReviewQueue.Ranking.MARGIN, 7);
        Set<String> marginFirst = new HashSet<>();
        margin.subList(0, 4).forEach(c -> marginFirst.add(c.guesses().get(0).label()));
        assertNotEquals(new HashSet<>(CLASSES), marginFirst, "the plain margin order need not cover them: the test "
                + "would not tell the two apart");
    }

    @Test
    void surestByClassAsksAboutTheMostConfidentPhotoOfEveryClassFirst() {
        List<ReviewQueue.Candidate> q = rank(ReviewQueue.Ranking.SUREST, 7);
        Set<String> firstFour = new HashSet<>();
        q.subList(0, 4).forEach(c -> firstFour.add(c.guesses().get(0).label()));
        assertEquals(new HashSet<>(CLASSES), firstFour, "one photo of each predicted class first");
        for (ReviewQueue.Candidate c : q.subList(0, 4)) {
            String cls = c.guesses().get(0).label();
            double best = q.stream().filter(o -> o.guesses().get(0).label().equals(cls))
                    .mapToDouble(o -> o.guesses().get(0).confidence()).max().orElseThrow();
            assertEquals(best, c.guesses().get(0).confidence(), 1e-9, "the surest photo of " + cls);
        }
    }

    @Test
    void randomIsSeededAndTheExitTakingAPhotoFollowsItsThreshold() {
        assertEquals(rank(ReviewQueue.Ranking.RANDOM, 3), rank(ReviewQueue.Ranking.RANDOM, 3));
        assertNotEquals(rank(ReviewQueue.Ranking.RANDOM, 3), rank(ReviewQueue.Ranking.RANDOM, 4));
        for (ReviewQueue.Candidate c : rank(ReviewQueue.Ranking.MARGIN, 7)) {
            float[] p = predictions(100, new Random(1)).exit(1)[c.row()];
            float top = Math.max(Math.max(p[0], p[1]), Math.max(p[2], p[3]));
            assertEquals(top >= 0.9 ? "block2" : PersonalisationResult.FINAL, c.exit(), "row " + c.row());
        }
        assertThrows(IllegalArgumentException.class, () -> ReviewQueue.Ranking.parse("loudest"));
        assertEquals(ReviewQueue.Ranking.LEAST_CONFIDENT, ReviewQueue.Ranking.parse("least-confident"));
    }
}
