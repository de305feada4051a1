package org.persephonee.core.review;

import org.persephonee.core.data.PersonalImage;
import org.persephonee.core.personalise.EvalPredictions;
import org.persephonee.core.personalise.PersonalisationResult;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * A run's unlabelled training photos in the order a person should label them. Every score is read off the run's
 * out-of-fold predictions ({@link PersonalisationResult#validation()}: heads that never trained on the photo), not
 * off heads that were taught the photo's pseudo-label and so agree with it.
 */
public final class ReviewQueue {
    /** How photos are ranked. */
    public enum Ranking {
        /** Smallest gap between the late ensemble's two most likely classes first. */
        MARGIN("margin"),
        /** Lowest top probability of the late ensemble first. */
        LEAST_CONFIDENT("least confident"),
        /** Most heads (exits and final exit) disagreeing with the late ensemble first; ties by margin. */
        DISAGREEMENT("disagreement"),
        /**
         * Round-robin over the classes the late ensemble predicts (most frequent first), smallest margin first within
         * each: every class the person has gets a label early, so the label space is theirs after a few reviews.
         */
        BALANCED("balanced margin"),
        /**
         * First the most confident photo of each class the late ensemble predicts (the likeliest to be of that class:
         * every class the person has gets its first label), then {@link #BALANCED}.
         */
        COVERAGE("coverage, then balanced margin"),
        /**
         * Round-robin over the classes the late ensemble predicts (most frequent first), the most confident photo first
         * within each: typical photos of every class, the first labels a cold start learns most from.
         */
        SUREST("surest by class"),
        /** A seeded shuffle (the baseline). */
        RANDOM("random");

        private final String display;

        Ranking(String display) {
            this.display = display;
        }

        public String display() { return display; }

        /** Parses a ranking's name or display name ({@code margin}, {@code balanced}, {@code least-confident}...). */
        public static Ranking parse(String s) {
            String t = s.strip().toLowerCase(Locale.ROOT).replace('-', '_').replace(' ', '_');
            for (Ranking r : values()) {
                if (r.name().toLowerCase(Locale.ROOT).equals(t) || r.display.replace(' ', '_').equals(t)) {
                    return r;
                }
            }
            throw new IllegalArgumentException("unknown ranking '" + s + "' (margin, least-confident, disagreement, "
                    + "balanced, coverage, surest or random)");
        }
    }

    /**
     * The ranking the lab uses, chosen on images the README does not report on (the reserved Fashion-MNIST slice
     * rendered as each sample persona, pipeline seeds 1 and 2): operating-point accuracy after 10 / 20 reviewed labels,
     * night-owl 76.7 / 82.1 % (balanced margin 69.1 / 71.5, random median 65.4 / 74.2), tilted-phone 58.9 / 63.5 %
     * (balanced margin 51.0 / 68.1, random 45.8 / 60.8). Balanced margin alone asked about three of tilted-phone's
     * four classes in its first ten photos, leaving the fourth out of the label space. See docs/active-learning.md.
     */
    public static final Ranking DEFAULT = Ranking.COVERAGE;

    /**
     * One guess for a photo.
     *
     * @param label a class of the run's label space
     * @param confidence the late ensemble's probability for it
     */
    public record Guess(String label, double confidence) { }

    /**
     * One photo to review.
     *
     * @param row the photo's row among the run's training images
     * @param image the photo
     * @param score what it was ranked by (lower first for margin and confidence, higher first for disagreement)
     * @param guesses the late ensemble's three most likely classes, most likely first
     * @param exit the stage of the first exit of the cascade that would take it (out of fold), or
     *             {@link PersonalisationResult#FINAL}
     */
    public record Candidate(int row, PersonalImage image, double score, List<Guess> guesses, String exit) { }

    private ReviewQueue() { }

    /**
     * Ranks a run's unlabelled training photos.
     *
     * @param r a finished run with out-of-fold predictions
     * @param cascadeExits the cascade's exits (indices into the run's exits), for {@link Candidate#exit()}
     * @param thresholds their confidence thresholds
     * @param seed for {@link Ranking#RANDOM} and ties
     * @return every unlabelled training photo, the one to label first first; empty when the run has no out-of-fold
     *         predictions (too few training photos)
     */
    public static List<Candidate> rank(PersonalisationResult r, int[] cascadeExits, double[] thresholds,
                                       Ranking how, long seed) {
        EvalPredictions oof = r.validation();
        if (oof == null) {
            return List.of();
        }
        return rank(oof, r.data().trainingImages(), r.labelSpace().names(), cascadeExits, thresholds, how, seed);
    }

    /**
     * Ranks the unlabelled rows of out-of-fold predictions ({@code truth == -1}).
     *
     * @param images the photo of each row
     * @param classes the label space's names, in output order
     */
    public static List<Candidate> rank(EvalPredictions oof, List<PersonalImage> images, List<String> classes,
                                       int[] cascadeExits, double[] thresholds, Ranking how, long seed) {
        if (images.size() != oof.size()) {
            throw new IllegalArgumentException(images.size() + " photos for " + oof.size() + " prediction rows");
        }
        List<Candidate> out = new ArrayList<>();
        java.util.Map<Integer, Double> margins = new java.util.HashMap<>();
        for (int i = 0; i < oof.size(); i++) {
            if (oof.truth()[i] != -1) {
                continue;
            }
            float[] p = oof.lateEnsemble(i);
            margins.put(i, margin(p));
            double score = switch (how) {
                case MARGIN, BALANCED, COVERAGE, SUREST, RANDOM -> margin(p);
                case LEAST_CONFIDENT -> p[argmax(p)];
                case DISAGREEMENT -> disagreement(oof, i, argmax(p));
            };
            out.add(new Candidate(i, images.get(i), score, top3(p, classes), takenBy(oof, i, cascadeExits,
                    thresholds)));
        }
        Random rnd = new Random(seed);
        switch (how) {
            case RANDOM -> java.util.Collections.shuffle(out, rnd);
            case DISAGREEMENT -> out.sort(Comparator.comparingDouble((Candidate c) -> -c.score())
                    .thenComparingDouble(c -> margins.get(c.row())));
            case BALANCED -> {
                out.sort(Comparator.comparingDouble(Candidate::score));
                out = roundRobin(out);
            }
            case SUREST -> {
                out.sort(Comparator.comparingDouble((Candidate c) -> -c.guesses().get(0).confidence()));
                out = roundRobin(out);
            }
            case COVERAGE -> {
                out.sort(Comparator.comparingDouble(Candidate::score));
                List<Candidate> first = new ArrayList<>();
                java.util.Map<String, Candidate> surest = new java.util.LinkedHashMap<>();
                for (Candidate c : out) {
                    Guess g = c.guesses().get(0);
                    Candidate had = surest.get(g.label());
                    if (had == null || g.confidence() > had.guesses().get(0).confidence()) {
                        surest.put(g.label(), c);
                    }
                }
                first.addAll(surest.values());
                first.sort(Comparator.comparingDouble((Candidate c) -> -c.guesses().get(0).confidence()));
                List<Candidate> rest = new ArrayList<>(out);
                rest.removeAll(first);
                first.addAll(roundRobin(rest));
                out = first;
            }
            default -> out.sort(Comparator.comparingDouble(Candidate::score));
        }
        return List.copyOf(out);
    }

    /** Interleaves photos by their most likely class (most frequent class first), keeping the order within each. */
    private static List<Candidate> roundRobin(List<Candidate> sorted) {
        java.util.Map<String, List<Candidate>> m = new java.util.LinkedHashMap<>();
        for (Candidate c : sorted) {
            m.computeIfAbsent(c.guesses().get(0).label(), k -> new ArrayList<>()).add(c);
        }
        List<List<Candidate>> byClass = new ArrayList<>(m.values());
        byClass.sort(Comparator.comparingInt((List<Candidate> l) -> -l.size()));
        List<Candidate> out = new ArrayList<>(sorted.size());
        for (int k = 0; out.size() < sorted.size(); k++) {
            for (List<Candidate> l : byClass) {
                if (k < l.size()) {
                    out.add(l.get(k));
                }
            }
        }
        return out;
    }

    private static double margin(float[] p) {
        float[] s = p.clone();
        Arrays.sort(s);
        return s.length < 2 ? 1 : s[s.length - 1] - s[s.length - 2];
    }

    private static double disagreement(EvalPredictions p, int i, int ensemble) {
        int n = 0;
        for (float[][] e : p.exits()) {
            if (argmax(e[i]) != ensemble) {
                n++;
            }
        }
        if (argmax(p.finalExit()[i]) != ensemble) {
            n++;
        }
        return n;
    }

    private static List<Guess> top3(float[] p, List<String> classes) {
        Integer[] idx = new Integer[p.length];
        for (int k = 0; k < idx.length; k++) {
            idx[k] = k;
        }
        Arrays.sort(idx, Comparator.comparingDouble(k -> -p[k]));
        List<Guess> g = new ArrayList<>();
        for (int k = 0; k < Math.min(3, idx.length); k++) {
            g.add(new Guess(classes.get(idx[k]), p[idx[k]]));
        }
        return List.copyOf(g);
    }

    private static String takenBy(EvalPredictions p, int i, int[] exits, double[] thresholds) {
        for (int k = 0; k < exits.length; k++) {
            float[] q = p.exit(exits[k])[i];
            if (q[argmax(q)] >= thresholds[k]) {
                return p.stages().get(exits[k]);
            }
        }
        return PersonalisationResult.FINAL;
    }

    private static int argmax(float[] p) {
        return org.persephonee.core.util.Vectors.argmax(p);
    }
}
