package org.persephonee.core.bench;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.data.ImageImporter;
import org.persephonee.core.data.LabelSpace;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.data.PersonalImage;
import org.persephonee.core.eval.Confidence;
import org.persephonee.core.eval.PairedComparison;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.export.BundleWriter;
import org.persephonee.core.personalise.PersonalisationConfig;
import org.persephonee.core.personalise.PersonalisationJob;
import org.persephonee.core.personalise.PersonalisationResult;
import org.persephonee.core.personalise.ResumeState;
import org.persephonee.core.pipeline.PersonalisePipeline;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * A person whose photos arrive over time: each sample persona's training photos (labelled and unlabelled, each
 * shuffled with the seed) arrive in {@code chunks} equal parts, and after each part the exits are personalised
 * twice, from scratch on everything so far and as an update of the previous update ({@code personalise --resume}
 * with the feature memo: the backbone runs on the new photos only and the heads warm-start). Both are scored on
 * the persona's test photos. Cost is what personalisation spends on the person's photos (decode, BatchNorm,
 * frozen pass, heads, and the cross-fitting or held-out predictions that choose the operating point); latency
 * profiling, scoring on the test photos and writing the bundle are left out of both. Both are timed {@code repeats}
 * times, interleaved (the update again from the memo as it was before it), and the median is the cost: on these
 * machines one run's time varies by a third, as much as the difference measured. An untimed warm-up (the first
 * persona's first seed, parts 1-2) runs before.
 *
 * @param bbDir backbone folder
 * @param personas folder holding the sample personas
 * @param names personas to run
 * @param chunks parts the training photos arrive in
 * @param seeds one replay per seed (the arrival order and every run's seed)
 * @param resumeEpochs epochs of an update
 * @param repeats timed runs of each method per part (the first also gives the accuracies and the next part's
 *                earlier run)
 */
public record ReplayBench(Path bbDir, Path personas, List<String> names, int chunks, List<Long> seeds,
                          int resumeEpochs, int repeats) {

    /**
     * One run: a method after a part arrived.
     *
     * @param method "scratch" or "update"
     * @param part how many parts have arrived (1 .. chunks)
     * @param photos training photos so far
     * @param backboneRanOn photos the frozen pass ran the backbone on (training and test)
     * @param cost seconds of personalisation, the median of the repeats (see the class comment)
     * @param operatingPoint test accuracy of the operating point
     * @param speedup its latency speed-up over the personalised final exit
     * @param finalExit test accuracy of the personalised final exit
     * @param bestHead test accuracy of the best single head
     * @param pVsScratch for an update: the exact McNemar p-value of its operating point against the one from scratch
     *                   on the same test photos (how likely a split of the photos only one gets right this uneven is
     *                   without a real difference); NaN for a run from scratch
     * @param backboneMs the whole backbone's milliseconds in the latency profile the run chose its operating point
     *                   with (one profile per persona: the same in every run after the first)
     */
    public record Point(String persona, long seed, String method, int part, int photos, int backboneRanOn,
                        double cost, double operatingPoint, double speedup, double finalExit, double bestHead,
                        double pVsScratch, double backboneMs) { }

    /** Every point and the markdown table of medians over the seeds. */
    public record Result(List<Point> points, String markdown) { }

    /** Runs the replays, progress on {@code err}. */
    public Result run(PrintStream err) throws Exception {
        List<Point> points = new ArrayList<>();
        try (Backbone bb = BackboneIO.load(bbDir)) {
            for (String name : names) {
                Path dir = personas.resolve(name);
                if (!Files.isDirectory(dir)) {
                    throw new IllegalArgumentException(dir + ": sample persona missing (run make-personas)");
                }
                PersonalDataset all = new ImageImporter(new LabelSpace(bb.classNames()), bb.input())
                        .importFolder(dir, null, () -> false).dataset();
                if (name.equals(names.get(0))) {
                    // an untimed warm-up, as the main bench has: the first parts' runs compiled the code they timed
                    // (night-owl part 2, seed 42: update 1.18 s, 0.27 s once warm)
                    err.println("replay: warming up (untimed): " + name + ", seed " + seeds.get(0) + ", parts 1-2");
                    replay(bb, name, all, seeds.get(0), new ArrayList<>(), new PrintStream(
                            java.io.OutputStream.nullOutputStream()), Math.min(2, chunks), new Path[1]);
                }
                // one latency profile per persona, measured by its first run: every later run of either method chooses
                // its operating point with it, so the two differ by what they learnt, not by the timer's noise
                Path[] profile = new Path[1];
                try {
                    for (long seed : seeds) {
                        replay(bb, name, all, seed, points, err, chunks, profile);
                    }
                } finally {
                    if (profile[0] != null) {
                        Files.deleteIfExists(profile[0]);
                    }
                }
            }
        }
        return new Result(points, markdown(points));
    }

    private void replay(Backbone bb, String name, PersonalDataset all, long seed, List<Point> points, PrintStream err,
                        int lastPart, Path[] profile) throws Exception {
        List<PersonalImage> labelled = shuffled(all.labelled(), seed);
        List<PersonalImage> unlabelled = shuffled(all.unlabelled(), seed + 1);
        Path work = Files.createTempDirectory("persephonee-replay");
        try {
            Path memo = work.resolve("memo");
            Path previous = null;
            for (int k = 1; k <= lastPart; k++) {
                List<PersonalImage> imgs = new ArrayList<>(all.test());
                imgs.addAll(labelled.subList(0, labelled.size() * k / chunks));
                imgs.addAll(unlabelled.subList(0, unlabelled.size() * k / chunks));
                PersonalDataset ds = new PersonalDataset(all.root(), imgs);
                PersonalisationConfig.Builder cfg = PersonalisationConfig.builder()
                        .setPlacements(ExitPlacement.auto(bb)).optSeed(seed).optEvalEveryEpoch(false);
                boolean[] scratchRight;
                List<Double> scratchCosts = new ArrayList<>();
                Point scratch;
                PersonalisationConfig fromScratch = cfg.build();
                try (PersonalisePipeline.Outcome o = run(bb, ds, fromScratch, profile[0])) {
                    if (profile[0] == null) {
                        profile[0] = Files.createTempFile("persephonee-replay-latency", ".json");
                        Files.writeString(profile[0], new com.google.gson.Gson().toJson(o.profile().toMap()));
                    }
                    scratch = point(name, seed, "scratch", k, o.result(), o, null);
                    scratchCosts.add(scratch.cost());
                    scratchRight = right(o);
                }
                PersonalisationConfig.Builder up = fromScratch.toBuilder().optFeatureMemo(memo);
                if (previous != null) {
                    up.optResume(ResumeState.read(previous)).optEpochs(resumeEpochs);
                }
                PersonalisationConfig asUpdate = up.build();
                // the memo as the update found it, for the repeats
                Path before = work.resolve("memo-before");
                if (repeats > 1 && Files.isDirectory(memo)) {
                    org.persephonee.core.util.FileTrees.copy(memo, before);
                }
                List<Double> updateCosts = new ArrayList<>();
                Point update;
                try (PersonalisePipeline.Outcome o = run(bb, ds, asUpdate, profile[0])) {
                    update = point(name, seed, "update", k, o.result(), o, scratchRight);
                    updateCosts.add(update.cost());
                    previous = BundleWriter.write(work.resolve("bundle-" + k), bb, o.result(), o.evaluation(),
                            o.choice());
                }
                for (int r = 1; r < repeats; r++) {
                    try (PersonalisePipeline.Outcome o = run(bb, ds, fromScratch, profile[0])) {
                        scratchCosts.add(cost(o.result()));
                    }
                    Path again = work.resolve("memo-again");
                    if (Files.isDirectory(before)) {
                        org.persephonee.core.util.FileTrees.copy(before, again);
                    }
                    try (PersonalisePipeline.Outcome o = run(bb, ds,
                            asUpdate.toBuilder().optFeatureMemo(again).build(), profile[0])) {
                        updateCosts.add(cost(o.result()));
                    } finally {
                        org.persephonee.core.util.FileTrees.delete(again);
                    }
                }
                org.persephonee.core.util.FileTrees.delete(before);
                points.add(withCost(scratch, scratchCosts));
                points.add(withCost(update, updateCosts));
                Point s = points.get(points.size() - 2);
                Point u = points.get(points.size() - 1);
                err.printf(Locale.ROOT, "%s seed %d part %d/%d (%d photos): scratch %.2f s %.1f%% at %.2fx (final "
                                + "%.1f%%, best head %.1f%%) | update %.2f s %.1f%% at %.2fx (final %.1f%%, best head "
                                + "%.1f%%; backbone on %d photos; vs scratch McNemar p %.3f)%n", name, seed, k, chunks,
                        s.photos(), s.cost(), 100 * s.operatingPoint(), s.speedup(), 100 * s.finalExit(),
                        100 * s.bestHead(), u.cost(), 100 * u.operatingPoint(), u.speedup(), 100 * u.finalExit(),
                        100 * u.bestHead(), u.backboneRanOn(), u.pVsScratch());
            }
        } finally {
            org.persephonee.core.util.FileTrees.delete(work);
        }
    }

    /** One run; its operating point chosen with the latency profile in {@code profile}, or one it measures (null). */
    private static PersonalisePipeline.Outcome run(Backbone bb, PersonalDataset ds, PersonalisationConfig cfg,
                                                   Path profile) throws Exception {
        return PersonalisePipeline.run(bb, ds, cfg, new PersonalisePipeline.Options(
                PersonalisePipeline.Options.DEFAULT_MAX_DROP, Confidence.MAX_SOFTMAX, false, profile, 15),
                PersonalisationJob.SILENT, () -> false);
    }

    private static List<PersonalImage> shuffled(List<PersonalImage> in, long seed) {
        List<PersonalImage> out = new ArrayList<>(in);
        out.sort(Comparator.comparing(i -> i.path().toString()));
        Collections.shuffle(out, new Random(seed));
        return out;
    }

    /** Per labelled test photo, in order: whether the outcome's operating point classifies it right. */
    private static boolean[] right(PersonalisePipeline.Outcome o) {
        return o.evaluation().cascade().rightPerImage(o.choice().cascade().exits(), o.choice().cascade().thresholds());
    }

    /** Seconds of personalisation (see the class comment). */
    private static double cost(PersonalisationResult r) {
        PersonalisationResult.Timing t = r.timing();
        return t.decode() + t.training() + t.validation();
    }

    private static Point withCost(Point p, List<Double> costs) {
        return new Point(p.persona(), p.seed(), p.method(), p.part(), p.photos(), p.backboneRanOn(),
                median(costs.stream().mapToDouble(Double::doubleValue).toArray()), p.operatingPoint(), p.speedup(),
                p.finalExit(), p.bestHead(), p.pVsScratch(), p.backboneMs());
    }

    private static Point point(String persona, long seed, String method, int part, PersonalisationResult r,
                               PersonalisePipeline.Outcome o, boolean[] scratchRight) {
        double best = r.finalAccuracy();
        for (int i = 0; i < r.heads().size(); i++) {
            best = Math.max(best, r.exitAccuracy(i));
        }
        return new Point(persona, seed, method, part, r.data().trainSize(), r.cacheUse().computed(),
                cost(r), o.choice().cascade().accuracy(), o.choice().speedup(),
                r.finalAccuracy(), best, scratchRight == null ? Double.NaN
                        : PairedComparison.of(right(o), scratchRight).pValue(), o.profile().backboneMs());
    }

    /** Per persona and part: medians over the seeds of both methods' cost and accuracies, and their ratio. */
    static String markdown(List<Point> points) {
        StringBuilder sb = new StringBuilder("| persona | part | training photos | cost scratch / update (s) | "
                + "update / scratch | operating point scratch / update | final exit scratch / update | "
                + "backbone ran on (update) | update vs scratch, McNemar p per seed |\n"
                + "|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
        List<String> personas = points.stream().map(Point::persona).distinct().toList();
        int parts = points.stream().mapToInt(Point::part).max().orElse(0);
        for (String p : personas) {
            for (int k = 1; k <= parts; k++) {
                int part = k;
                List<Point> s = points.stream().filter(x -> x.persona().equals(p) && x.part() == part
                        && x.method().equals("scratch")).toList();
                List<Point> u = points.stream().filter(x -> x.persona().equals(p) && x.part() == part
                        && x.method().equals("update")).toList();
                if (s.isEmpty() || u.isEmpty()) {
                    continue;
                }
                double sc = median(s.stream().mapToDouble(Point::cost).toArray());
                double uc = median(u.stream().mapToDouble(Point::cost).toArray());
                String ps = String.join(" / ", u.stream().map(x -> Double.isNaN(x.pVsScratch()) ? "–"
                        : x.pVsScratch() < 0.01 ? "<0.01" : String.format(Locale.ROOT, "%.2f", x.pVsScratch())).toList());
                sb.append(String.format(Locale.ROOT, "| %s | %d | %d | %.2f / %.2f | %s | %.1f%% / %.1f%% | "
                                + "%.1f%% / %.1f%% | %d | %s |%n", p, k, s.get(0).photos(), sc, uc,
                        k == 1 ? "(first run)" : String.format(Locale.ROOT, "%.0f%%", 100 * uc / sc),
                        100 * median(s.stream().mapToDouble(Point::operatingPoint).toArray()),
                        100 * median(u.stream().mapToDouble(Point::operatingPoint).toArray()),
                        100 * median(s.stream().mapToDouble(Point::finalExit).toArray()),
                        100 * median(u.stream().mapToDouble(Point::finalExit).toArray()),
                        (int) median(u.stream().mapToDouble(Point::backboneRanOn).toArray()), ps));
            }
        }
        return sb.toString();
    }

    private static double median(double[] v) {
        return org.persephonee.core.util.Vectors.median(v);
    }
}
