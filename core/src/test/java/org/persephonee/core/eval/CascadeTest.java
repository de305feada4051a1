package org.persephonee.core.eval;

import org.junit.jupiter.api.Test;
import org.persephonee.core.personalise.EvalPredictions;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CascadeTest {
    // 4 images, 2 classes. Exit 0 is confident on images 0,1 (right on 0, wrong on 1); exit 1 is
    // confident on 0,1,2 and right on all; the final exit is right on everything.
    private static final float[][] E0 = {{0.95f, 0.05f}, {0.91f, 0.09f}, {0.6f, 0.4f}, {0.55f, 0.45f}};
    private static final float[][] E1 = {{0.97f, 0.03f}, {0.05f, 0.95f}, {0.92f, 0.08f}, {0.5f, 0.5f}};
    private static final float[][] FIN = {{0.99f, 0.01f}, {0.01f, 0.99f}, {0.99f, 0.01f}, {0.02f, 0.98f}};
    private static final int[] TRUTH = {0, 1, 0, 1};

    private static Cascade cascade() {
        EvalPredictions p = new EvalPredictions(List.of("s1", "s2"), List.of(E0, E1), FIN, TRUTH, 2);
        // stages: s1 costs 2 ms cumulative, s2 5 ms cumulative, whole backbone 10 ms; heads 1 ms each; final 0.5
        CostModel ms = new CostModel("ms", new double[] {2, 5}, new double[] {1, 1}, 10, 0.5);
        CostModel macs = new CostModel("MACs", new double[] {200, 500}, new double[] {10, 20}, 1000, 5);
        return new Cascade(p, ms, macs, Confidence.MAX_SOFTMAX);
    }

    @Test
    void thresholdAboveOneMeansEveryImageReachesTheFinalExit() {
        Cascade c = cascade();
        CascadeResult r = c.evaluate(new int[] {0, 1}, 1.01);
        assertArrayEquals(new double[] {0, 0, 1}, r.share(), 1e-12);
        assertEquals(1.0, r.accuracy(), 1e-12);
        // every head ran and failed, plus the whole backbone and the final classifier
        assertEquals(10 + 1 + 1 + 0.5, r.meanMs(), 1e-12);
        assertEquals(c.finalAccuracy(), r.accuracy(), 1e-12);
    }

    @Test
    void thresholdZeroMeansEveryImageLeavesAtTheFirstExit() {
        CascadeResult r = cascade().evaluate(new int[] {0, 1}, 0.0);
        assertArrayEquals(new double[] {1, 0, 0}, r.share(), 1e-12);
        assertEquals(0.5, r.accuracy(), 1e-12);
        assertEquals(2 + 1, r.meanMs(), 1e-12);
        assertEquals(200 + 10, r.meanMacs(), 1e-12);
    }

    @Test
    void imagesLeaveAtTheFirstConfidentExit() {
        CascadeResult r = cascade().evaluate(new int[] {0, 1}, 0.9);
        // image 0,1 leave at exit 0 (0.95, 0.91 >= 0.9), image 2 at exit 1 (0.92), image 3 at the final exit
        assertArrayEquals(new double[] {0.5, 0.25, 0.25}, r.share(), 1e-12);
        assertEquals(0.75, r.accuracy(), 1e-12); // image 1 was wrong at exit 0
        assertEquals((3 + 3 + (5 + 2) + 12.5) / 4.0, r.meanMs(), 1e-12);
        // per-exit thresholds: make exit 0 stricter and image 1 moves on to exit 1, where it is right
        CascadeResult strict = cascade().evaluate(new int[] {0, 1}, new double[] {0.93, 0.9});
        assertEquals(1.0, strict.accuracy(), 1e-12);
    }

    @Test
    void entropyConfidenceIsOneForCertainAndZeroForUniform() {
        assertEquals(1.0, Confidence.ENTROPY.of(new float[] {1f, 0f}), 1e-9);
        assertEquals(0.0, Confidence.ENTROPY.of(new float[] {0.5f, 0.5f}), 1e-9);
        assertEquals(0.5, Confidence.MAX_SOFTMAX.of(new float[] {0.5f, 0.5f}), 1e-9);
    }

    @Test
    void searchIsChosenByCrossValidationSoThresholdsDoNotFitNoise() {
        // 400 images: two exits that guess (random confidences, right half of the time), a final exit that is
        // always right. Any early leaving that looks free on these images is luck and costs accuracy elsewhere.
        java.util.Random r = new java.util.Random(3);
        int n = 400;
        float[][] e0 = new float[n][];
        float[][] e1 = new float[n][];
        float[][] fin = new float[n][];
        int[] truth = new int[n];
        for (int i = 0; i < n; i++) {
            truth[i] = i % 2;
            float a = 0.5f + 0.5f * r.nextFloat();
            float b = 0.5f + 0.5f * r.nextFloat();
            e0[i] = r.nextBoolean() ? new float[] {a, 1 - a} : new float[] {1 - a, a};
            e1[i] = r.nextBoolean() ? new float[] {b, 1 - b} : new float[] {1 - b, b};
            fin[i] = truth[i] == 0 ? new float[] {0.99f, 0.01f} : new float[] {0.01f, 0.99f};
        }
        EvalPredictions p = new EvalPredictions(List.of("s1", "s2"), List.of(e0, e1), fin, truth, 2);
        Cascade c = new Cascade(p, new CostModel("ms", new double[] {2, 5}, new double[] {1, 1}, 10, 0.5),
                new CostModel("MACs", new double[] {200, 500}, new double[] {10, 20}, 1000, 5), Confidence.MAX_SOFTMAX);
        OperatingPoint.Selection sel = OperatingPoint.select(c, 1.0, false, 7);
        assertEquals(3, sel.tried().size(), "every search is cross-validated");
        double chosen = sel.validation().dropPoints();
        assertTrue(chosen <= 1.0 + 1e-9 || sel.tried().values().stream().allMatch(v -> v.dropPoints() >= chosen - 1e-9),
                "within the budget out of sample, or the smallest drop on offer: " + sel.tried());
        assertTrue(chosen <= sel.tried().get(OperatingPoint.Search.PER_EXIT).dropPoints() + 1e-9);
        // the exported choice keeps within the budget on the images it was searched on
        assertTrue(sel.choice().cascade().accuracy() >= 0.99 - 1e-9);
        // too few images to split: the full search, no estimate
        OperatingPoint.Selection tiny = OperatingPoint.select(cascade(), 1.0, false, 7);
        assertEquals(OperatingPoint.Search.PER_EXIT, tiny.search());
        assertEquals(null, tiny.validation());
    }

    @Test
    void operatingPointIsTheCheapestCascadeWithinTheAccuracyBudget() {
        Cascade c = cascade();
        OperatingPoint.Choice exact = OperatingPoint.choose(c, 0.0, false);
        assertEquals(1.0, exact.cascade().accuracy(), 1e-12);
        assertTrue(exact.cascade().meanMs() < exact.finalMs(), "leaving early must pay off");
        assertTrue(exact.speedup() > 1);
        // a looser budget can only be as fast or faster
        OperatingPoint.Choice loose = OperatingPoint.choose(c, 30.0, false);
        assertTrue(loose.cascade().meanMs() <= exact.cascade().meanMs());
        assertTrue(loose.cascade().accuracy() >= 0.7 - 1e-9);
    }

    @Test
    void paretoFrontIsMonotone() {
        Cascade c = cascade();
        Curve curve = ThresholdSweep.cascadeCurve(c, new int[] {0, 1}, "cascade");
        List<CurvePoint> front = curve.paretoFront(false);
        for (int i = 1; i < front.size(); i++) {
            assertTrue(front.get(i).ms() >= front.get(i - 1).ms());
            assertTrue(front.get(i).accuracy() > front.get(i - 1).accuracy());
        }
        assertEquals(ThresholdSweep.grid().length, curve.points().size());
    }

    /** Three exits on n images of 2 classes, each exit given (confidence, right?) per image by a rule. */
    private interface Rule {
        float[] probs(int exit, int image, int truth);
    }

    private static Cascade synthetic(int n, int exits, Rule rule, boolean finalRight) {
        List<float[][]> probs = new java.util.ArrayList<>();
        int[] truth = new int[n];
        for (int i = 0; i < n; i++) {
            truth[i] = i % 2;
        }
        for (int j = 0; j < exits; j++) {
            float[][] e = new float[n][];
            for (int i = 0; i < n; i++) {
                e[i] = rule.probs(j, i, truth[i]);
            }
            probs.add(e);
        }
        float[][] fin = new float[n][];
        for (int i = 0; i < n; i++) {
            int c = finalRight || i % 3 != 0 ? truth[i] : 1 - truth[i];
            fin[i] = c == 0 ? new float[] {0.9f, 0.1f} : new float[] {0.1f, 0.9f};
        }
        List<String> names = new java.util.ArrayList<>();
        double[] cum = new double[exits];
        double[] head = new double[exits];
        for (int j = 0; j < exits; j++) {
            names.add("s" + j);
            cum[j] = 2 + 2 * j;
            head[j] = 0.5;
        }
        EvalPredictions p = new EvalPredictions(names, probs, fin, truth, 2);
        // a 12 ms backbone whichever exits are attached (up to 5), so cascades with more exits compare fairly
        CostModel ms = new CostModel("ms", cum, head, 12, 0.5);
        CostModel macs = new CostModel("MACs", java.util.Arrays.stream(cum).map(x -> x * 100).toArray(),
                java.util.Arrays.stream(head).map(x -> x * 10).toArray(), 1200, 5);
        return new Cascade(p, ms, macs, Confidence.MAX_SOFTMAX);
    }

    private static float[] says(int cls, float conf) {
        return cls == 0 ? new float[] {conf, 1 - conf} : new float[] {1 - conf, conf};
    }

    @Test
    void theBestHeadSetsTheBarNotAWeakerFinalExit() {
        // the final exit is wrong on a third of the images; exit 1 is always right; exit 0 guesses
        Cascade c = synthetic(300, 2, (j, i, t) -> j == 1 ? says(t, 0.9f) : says(i % 5 == 0 ? 1 - t : t, 0.6f), false);
        assertTrue(c.finalAccuracy() < 0.7);
        OperatingPoint.Choice ch = OperatingPoint.choose(c, 1.0, false);
        assertEquals(1, ch.reference().exit());
        assertEquals(1.0, ch.reference().accuracy(), 1e-12);
        assertTrue(ch.cascade().accuracy() >= 1.0 - 0.01 - 1e-9, "cascade " + ch.cascade().accuracy()
                + " gave away the best exit's accuracy");
        assertTrue(ch.speedup() > 1);
    }

    @Test
    void aSubsetIsFoundWhenNoThresholdOverAllExitsMeetsTheBudget() {
        // exit 0 is confidently wrong on 30 % of the images (0.99), exit 1 right and fairly sure (0.95) on 90 %:
        // every global threshold over both exits either lets exit 0's mistakes out or keeps every image in,
        // while exit 1 alone meets the budget at a fraction of the cost
        Cascade c = synthetic(400, 2, (j, i, t) -> j == 0 ? (i % 10 < 3 ? says(1 - t, 0.99f) : says(t, 0.6f))
                : (i % 10 < 9 ? says(t, 0.95f) : says(t, 0.55f)), true);
        for (OperatingPoint.Search s : new OperatingPoint.Search[] {OperatingPoint.Search.DROP,
            OperatingPoint.Search.PER_EXIT}) {
            OperatingPoint.Choice ch = OperatingPoint.choose(c, 1.0, false, s);
            assertTrue(ch.cascade().exits().length > 0, s + ": fell back to no exits");
            assertTrue(ch.cascade().accuracy() >= 0.99 - 1e-9, s + ": " + ch.cascade().accuracy());
            assertTrue(ch.speedup() > 1.5, s + ": " + ch.speedup());
            assertEquals(1, ch.cascade().exits()[0], s + ": exit 1 alone is the way out");
        }
    }

    @Test
    void addingAnExitNeverMakesTheChosenPointWorseOnTheImagesItIsChosenOn() {
        java.util.Random r = new java.util.Random(11);
        for (int trial = 0; trial < 20; trial++) {
            long seed = r.nextLong();
            Rule rule = (j, i, t) -> {
                java.util.Random q = new java.util.Random(seed * 31 + j * 1000003L + i);
                float conf = 0.5f + 0.5f * q.nextFloat();
                boolean right = q.nextFloat() < 0.55 + 0.1 * j + 0.3 * (conf - 0.5);
                return says(right ? t : 1 - t, conf);
            };
            Cascade four = synthetic(300, 4, rule, trial % 2 == 0);
            Cascade three = synthetic(300, 3, rule, trial % 2 == 0);   // the same first three exits
            for (boolean byMacs : new boolean[] {false, true}) {
                OperatingPoint.Choice a = OperatingPoint.choose(three, 2.0, byMacs, OperatingPoint.Search.DROP);
                OperatingPoint.Choice b = OperatingPoint.choose(four, 2.0, byMacs, OperatingPoint.Search.DROP);
                if (b.reference().accuracy() <= a.reference().accuracy() + 1e-12) {
                    // same bar: the fourth exit adds options, never takes one away
                    double ca = byMacs ? a.cascade().meanMacs() : a.cascade().meanMs();
                    double cb = byMacs ? b.cascade().meanMacs() : b.cascade().meanMs();
                    assertTrue(cb <= ca + 1e-9, "trial " + trial + ": " + cb + " > " + ca);
                }
            }
        }
    }

    @Test
    void perExitThresholdsCanBringBackAnExitTheSharedThresholdLeftOut() {
        // exit 0 is right when it is very sure (0.99, 40 % of the images) and wrong at 0.9 on 30 %; exit 1 is
        // right at 0.9 on 90 %. One shared threshold cannot use both (0.95 silences exit 1, 0.9 lets exit 0's
        // mistakes out), so exit 1 alone is the cheapest subset; with a threshold each, exit 0 at 0.95 takes the
        // sure 40 % sooner. Refining only the cheapest subset's thresholds never found that; the search must.
        Cascade c = synthetic(400, 2, (j, i, t) -> j == 0
                ? (i % 10 < 4 ? says(t, 0.99f) : i % 10 < 7 ? says(1 - t, 0.9f) : says(t, 0.6f))
                : (i % 10 < 9 ? says(t, 0.9f) : says(1 - t, 0.55f)), true);
        CascadeResult onlyOne = OperatingPoint.choose(c, 1.0, false, OperatingPoint.Search.DROP).cascade();
        assertArrayEquals(new int[] {1}, onlyOne.exits());
        CascadeResult both = OperatingPoint.choose(c, 1.0, false, OperatingPoint.Search.PER_EXIT).cascade();
        assertArrayEquals(new int[] {0, 1}, both.exits());
        assertTrue(both.accuracy() >= 0.99 - 1e-9, "accuracy " + both.accuracy());
        assertTrue(both.meanMs() < onlyOne.meanMs() * 0.95, both.meanMs() + " ms vs " + onlyOne.meanMs());
    }
}
