package org.persephonee.core.personalise;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * The classes one person's exits predict: the classes in their labels and, for unlabelled data, the
 * teacher's confident predictions. Classes unknown to the backbone appear only through labels.
 *
 * @param names class names in output order
 * @param backboneIndex for each class, its index among the backbone's classes, or -1 for a new class
 */
public record PersonalLabelSpace(List<String> names, int[] backboneIndex) {
    public PersonalLabelSpace {
        names = List.copyOf(names);
        backboneIndex = backboneIndex.clone();
        if (names.size() != backboneIndex.length) {
            throw new IllegalArgumentException("names and backbone indices differ in length");
        }
    }

    /**
     * The personal label space: the classes of the person's labels; with no labels, the classes the
     * teacher predicts confidently for at least max(3, 2%) of the unlabelled images. Backbone order first,
     * then new classes by name.
     *
     * @param names the backbone's classes
     * @param trainLabels each training image's label, null when unlabelled
     * @param teacherLogits the teacher's logits for each training image (over the backbone's classes)
     * @param rule what unlabelled images are used for ({@code IGNORE}: not for the label space either)
     * @param pseudoLabelThreshold the teacher confidence an unlabelled image's class needs to count
     * @throws PersonalisationException when fewer than two classes remain
     */
    public static PersonalLabelSpace infer(List<String> names, List<String> trainLabels, float[][] teacherLogits,
                                           UnlabelledRule rule, double pseudoLabelThreshold)
            throws PersonalisationException {
        return infer(names, trainLabels, teacherLogits, rule, pseudoLabelThreshold, List.of());
    }

    /**
     * As {@link #infer(List, List, float[][], UnlabelledRule, double)}, with the person's classes declared: the label
     * space is then the declared classes and those of any labels, and the teacher's predictions choose none. Measured
     * on night-owl without labels (README design table, *label space without labels*): the count rule keeps 7-8
     * classes for its 5, and the two or three extra ones take photos of the true classes.
     *
     * @param declared class names as the person gave them (matched as {@link org.persephonee.core.data.ClassNames}
     *                 does); empty to infer
     * @throws PersonalisationException when a declared class is not one of the backbone's and no photo is labelled
     *                                  with it (it would have no teacher and no example), or fewer than two classes
     */
    public static PersonalLabelSpace infer(List<String> names, List<String> trainLabels, float[][] teacherLogits,
                                           UnlabelledRule rule, double pseudoLabelThreshold, List<String> declared)
            throws PersonalisationException {
        TreeMap<Integer, String> known = new TreeMap<>();
        java.util.TreeSet<String> fresh = new java.util.TreeSet<>();
        int unl = 0;
        for (String l : trainLabels) {
            if (l == null) {
                unl++;
                continue;
            }
            int b = names.indexOf(l);
            if (b >= 0) {
                known.put(b, l);
            } else {
                fresh.add(l);
            }
        }
        for (String d : declared) {
            int b = -1;
            for (int k = 0; k < names.size() && b < 0; k++) {
                if (org.persephonee.core.data.ClassNames.same(names.get(k), d)) {
                    b = k;
                }
            }
            if (b >= 0) {
                known.put(b, names.get(b));
            } else if (fresh.stream().noneMatch(f -> org.persephonee.core.data.ClassNames.same(f, d))) {
                throw new PersonalisationException("the class '" + d + "' is not one of the backbone's ("
                        + String.join(", ", names) + ") and no photo is labelled with it: a new class needs "
                        + "labelled photos");
            }
        }
        // with labels (or declared classes) those are the label space; without, the teacher's confident classes
        if (declared.isEmpty() && known.isEmpty() && fresh.isEmpty() && rule != UnlabelledRule.IGNORE && unl > 0) {
            int[] counts = teacherCounts(names.size(), trainLabels, teacherLogits, pseudoLabelThreshold)[1];
            int min = Math.max(3, (int) Math.ceil(0.02 * unl));
            for (int k = 0; k < counts.length; k++) {
                if (counts[k] >= min) {
                    known.put(k, names.get(k));
                }
            }
        }
        List<String> out = new ArrayList<>(known.values());
        List<Integer> idx = new ArrayList<>(known.keySet());
        for (String f : fresh) {
            out.add(f);
            idx.add(-1);
        }
        if (out.size() < 2) {
            throw new PersonalisationException("the personal label space has " + out.size() + " class"
                    + (out.isEmpty() ? "es" : " (" + out.get(0) + ")") + ": personalisation needs at least two "
                    + "classes — label images of another class, or lower the pseudo-label confidence");
        }
        return new PersonalLabelSpace(out, idx.stream().mapToInt(Integer::intValue).toArray());
    }

    public int size() { return names.size(); }

    public int indexOf(String name) { return names.indexOf(name); }

    /** True when any class has no teacher (a new class). */
    public boolean hasNewClasses() {
        for (int b : backboneIndex) {
            if (b < 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * Softmax of the teacher's logits over this label space (new classes get probability 0).
     *
     * @param logits backbone logits for one image
     * @param temperature softmax temperature
     * @param out destination of {@link #size()} probabilities
     */
    public void restrictedSoftmax(float[] logits, int offset, float temperature, float[] out) {
        double max = Double.NEGATIVE_INFINITY;
        for (int b : backboneIndex) {
            if (b >= 0) {
                max = Math.max(max, logits[offset + b] / temperature);
            }
        }
        double sum = 0;
        for (int k = 0; k < backboneIndex.length; k++) {
            int b = backboneIndex[k];
            double e = b >= 0 ? Math.exp(logits[offset + b] / temperature - max) : 0;
            out[k] = (float) e;
            sum += e;
        }
        for (int k = 0; k < out.length; k++) {
            out[k] = sum > 0 ? (float) (out[k] / sum) : 0f;
        }
    }

    /**
     * A class a guessed label space left out although the teacher named it first for many of the photos: it was seldom
     * sure of it. A label-smoothed backbone is seldom sure of anything, and then the guess drops classes the person
     * owns (the MobileNetV2 bundle kept 3 of tilted-phone's 4 classes: Shirt was its top guess for 76 of 460 photos,
     * sure for 1). Adding such classes by rule cost more than it gained (docs/label-space.md, session 37), so the run
     * names them and the person decides.
     *
     * @param name the backbone's class
     * @param topGuess unlabelled photos the teacher named it first for
     * @param sure of those, the ones at the pseudo-label confidence or above
     * @param unlabelled the unlabelled photos the guess was made on
     */
    public record LeftOut(String name, int topGuess, int sure, int unlabelled) {
        /** "Shirt (the top guess for 76 of 460 photos, sure of 1)". */
        public String describe() {
            return name + " (the top guess for " + topGuess + " of " + unlabelled + " photos, sure of " + sure + ")";
        }
    }

    /** Share of the unlabelled photos a left-out class must be the teacher's top guess for to be named. */
    static final double LEFT_OUT_SHARE = 0.10;

    /**
     * The classes this guessed label space left out although the teacher named them first for at least a tenth of the
     * unlabelled photos, most often first; empty when nothing was left out that way.
     *
     * @param names the backbone's classes
     * @param trainLabels each training image's label, null when unlabelled
     * @param teacherLogits the teacher's logits for each training image (over the backbone's classes)
     * @param pseudoLabelThreshold the teacher confidence the guess counted
     */
    public List<LeftOut> leftOut(List<String> names, List<String> trainLabels, float[][] teacherLogits,
                                 double pseudoLabelThreshold) {
        int[][] c = teacherCounts(names.size(), trainLabels, teacherLogits, pseudoLabelThreshold);
        int[] top = c[0];
        int[] sure = c[1];
        int unl = java.util.Arrays.stream(top).sum();
        java.util.Set<Integer> kept = new java.util.HashSet<>();
        for (int b : backboneIndex) {
            kept.add(b);
        }
        List<LeftOut> out = new ArrayList<>();
        int min = Math.max(3, (int) Math.ceil(LEFT_OUT_SHARE * unl));
        for (int k = 0; k < names.size(); k++) {
            if (!kept.contains(k) && top[k] >= min) {
                out.add(new LeftOut(names.get(k), top[k], sure[k], unl));
            }
        }
        out.sort(java.util.Comparator.comparingInt(LeftOut::topGuess).reversed());
        return out;
    }

    /**
     * Per backbone class, over the unlabelled training photos: how often the teacher names it first, and how often
     * at {@code threshold} confidence or above.
     */
    private static int[][] teacherCounts(int classes, List<String> trainLabels, float[][] teacherLogits,
                                         double threshold) {
        int[] top = new int[classes];
        int[] sure = new int[classes];
        for (int i = 0; i < trainLabels.size(); i++) {
            if (trainLabels.get(i) == null) {
                float[] p = org.persephonee.core.util.Vectors.softmax(teacherLogits[i], 1f);
                int a = org.persephonee.core.util.Vectors.argmax(p);
                top[a]++;
                if (p[a] >= threshold) {
                    sure[a]++;
                }
            }
        }
        return new int[][] {top, sure};
    }
}
