package org.persephonee.core.personalise;

import org.persephonee.core.backbone.InputSpec;
import org.persephonee.core.data.ImageDecodeException;
import org.persephonee.core.data.ImageDecoder;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.data.PersonalImage;
import org.persephonee.core.data.SkippedFile;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * A personal dataset decoded for one backbone, with the label regime applied: training images (with a
 * label name or none) and evaluation images (held-out test images; when the person has none, either none, and the
 * figures are then out of fold, or a seeded hold-out of training images when asked for).
 */
public final class PreparedData {
    final List<PersonalImage> train = new ArrayList<>();
    final List<float[]> trainX = new ArrayList<>();
    /** Label name kept by the regime, or null. */
    final List<String> trainLabel = new ArrayList<>();
    /** The label the person gave, even when the regime hides it (for reporting pseudo-label quality). */
    final List<String> trainGivenLabel = new ArrayList<>();
    final List<PersonalImage> eval = new ArrayList<>();
    final List<float[]> evalX = new ArrayList<>();
    final List<String> evalLabel = new ArrayList<>();
    final List<SkippedFile> skipped = new ArrayList<>();
    boolean evalIsHoldout;
    boolean evalIsOutOfFold;
    int labelsGiven;

    private PreparedData() { }

    public int trainSize() { return train.size(); }

    public int evalSize() { return eval.size(); }

    /** Training images whose label is used. */
    public int labelledUsed() {
        int n = 0;
        for (String s : trainLabel) {
            if (s != null) {
                n++;
            }
        }
        return n;
    }

    /** Whether training image {@code i}'s label is used (the regime may hide labels the person gave). */
    public boolean labelUsed(int i) { return trainLabel.get(i) != null; }

    /** Labelled training images in the data before the regime. */
    public int labelsGiven() { return labelsGiven; }

    /** True when evaluation uses a hold-out of training images (the person has no test images). */
    public boolean evalIsHoldout() { return evalIsHoldout; }

    /**
     * True when the person has no test images and none were held out: every photo trains, and the figures are the
     * training photos' out-of-fold predictions (the cross-fitting's), the validation estimate.
     */
    public boolean evalIsOutOfFold() { return evalIsOutOfFold; }

    /** Images that could not be decoded now. */
    public List<SkippedFile> skipped() { return List.copyOf(skipped); }

    /**
     * The images the result's figures are on, in the order of {@link EvalPredictions} rows: the test images, the
     * held-out ones, or with {@link #evalIsOutOfFold()} the training images (scored out of fold).
     */
    public List<org.persephonee.core.data.PersonalImage> evalImages() {
        return List.copyOf(evalIsOutOfFold ? train : eval);
    }

    /** The training images, in the order of {@link PersonalisationResult#validation()} rows. */
    public List<org.persephonee.core.data.PersonalImage> trainingImages() { return List.copyOf(train); }

    /** Decoded training images (normalised CHW). */
    public List<float[]> trainImages() { return java.util.Collections.unmodifiableList(trainX); }

    /**
     * Decodes a dataset and applies the label regime.
     *
     * @throws PersonalisationException when the data cannot support the regime
     */
    public static PreparedData prepare(PersonalDataset ds, InputSpec spec, LabelRegime regime, double holdout,
                                       long seed, PersonalisationJob.Listener listener, BooleanSupplier cancelled)
            throws PersonalisationException {
        return prepare(ds, spec, regime, holdout, seed, null, listener, cancelled);
    }

    /**
     * As {@link #prepare(PersonalDataset, InputSpec, LabelRegime, double, long, PersonalisationJob.Listener,
     * BooleanSupplier)}, taking photos decoded by an earlier run from {@code decoded} (null: decode every photo).
     */
    static PreparedData prepare(PersonalDataset ds, InputSpec spec, LabelRegime regime, double holdout, long seed,
                                DecodeCache decoded, PersonalisationJob.Listener listener, BooleanSupplier cancelled)
            throws PersonalisationException {
        if (ds == null || ds.size() == 0) {
            throw new PersonalisationException("the personal dataset has no images: import some images first");
        }
        PreparedData d = new PreparedData();
        int total = ds.size();
        int done = 0;
        List<PersonalImage> trainImgs = new ArrayList<>();
        List<float[]> trainXs = new ArrayList<>();
        long t0 = System.nanoTime();
        for (PersonalImage img : ds.images()) {
            if (cancelled.getAsBoolean()) {
                throw new CancellationException("cancelled while decoding images");
            }
            try {
                float[] x = decoded != null ? decoded.decode(img.path()) : ImageDecoder.decode(img.path(), spec);
                if (img.split() == PersonalImage.Split.TEST) {
                    if (img.labelled()) {
                        d.eval.add(img);
                        d.evalX.add(x);
                        d.evalLabel.add(img.label());
                    }
                } else {
                    trainImgs.add(img);
                    trainXs.add(x);
                }
            } catch (ImageDecodeException e) {
                d.skipped.add(new SkippedFile(img.path(), e.problem()));
            }
            done++;
            if (done % 32 == 0 || done == total) {
                double el = (System.nanoTime() - t0) / 1e9;
                listener.onProgress(PersonalisationJob.Phase.DECODE, done / (double) total,
                        el / done * (total - done));
            }
        }
        if (trainImgs.isEmpty()) {
            throw new PersonalisationException("no training images: every image is in test/ or could not be read");
        }
        Random rnd = new Random(seed);
        if (d.eval.isEmpty() && holdout <= 0) {
            // no test images and no hold-out asked for: every photo trains; the caller scores out of fold
            d.evalIsOutOfFold = true;
        } else if (d.eval.isEmpty()) {
            // no test images: hold out a seeded share of the training images for evaluation
            d.evalIsHoldout = true;
            List<Integer> idx = new ArrayList<>();
            for (int i = 0; i < trainImgs.size(); i++) {
                idx.add(i);
            }
            java.util.Collections.shuffle(idx, rnd);
            int nHold = (int) Math.round(trainImgs.size() * holdout);
            if (trainImgs.size() - nHold < 2 || nHold < 1) {
                throw new PersonalisationException("too few images (" + trainImgs.size() + ") to hold some out for "
                        + "evaluation: add a test/<class>/ folder or more images");
            }
            java.util.Set<Integer> hold = new java.util.HashSet<>(idx.subList(0, nHold));
            List<PersonalImage> keepImgs = new ArrayList<>();
            List<float[]> keepX = new ArrayList<>();
            for (int i = 0; i < trainImgs.size(); i++) {
                if (hold.contains(i)) {
                    d.eval.add(trainImgs.get(i));
                    d.evalX.add(trainXs.get(i));
                    d.evalLabel.add(trainImgs.get(i).label());
                } else {
                    keepImgs.add(trainImgs.get(i));
                    keepX.add(trainXs.get(i));
                }
            }
            trainImgs = keepImgs;
            trainXs = keepX;
        }
        d.train.addAll(trainImgs);
        d.trainX.addAll(trainXs);
        for (PersonalImage img : trainImgs) {
            d.trainGivenLabel.add(img.label());
            if (img.labelled()) {
                d.labelsGiven++;
            }
        }
        applyRegime(d, regime, rnd);
        return d;
    }

    private static void applyRegime(PreparedData d, LabelRegime regime, Random rnd) throws PersonalisationException {
        if (regime.kind() != LabelRegime.Kind.NONE && d.labelsGiven == 0) {
            throw new PersonalisationException("labels '" + regime + "' asked for, but none of the "
                    + d.train.size() + " training images is labelled: use labels 'none' (the final exit teaches "
                    + "the others) or label some images");
        }
        switch (regime.kind()) {
            case ALL -> d.trainLabel.addAll(d.trainGivenLabel);
            case NONE -> d.train.forEach(i -> d.trainLabel.add(null));
            case FRACTION -> {
                Map<String, List<Integer>> byClass = new LinkedHashMap<>();
                for (int i = 0; i < d.train.size(); i++) {
                    String l = d.trainGivenLabel.get(i);
                    d.trainLabel.add(null);
                    if (l != null) {
                        byClass.computeIfAbsent(l, k -> new ArrayList<>()).add(i);
                    }
                }
                for (List<Integer> members : byClass.values()) {
                    java.util.Collections.shuffle(members, rnd);
                    int keep = Math.max(1, (int) Math.round(members.size() * regime.fraction()));
                    for (int k = 0; k < keep; k++) {
                        d.trainLabel.set(members.get(k), d.trainGivenLabel.get(members.get(k)));
                    }
                }
            }
            default -> throw new IllegalStateException();
        }
    }
}
