package org.persephonee.core.bench;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.data.FashionMnist;
import org.persephonee.core.data.ImageImporter;
import org.persephonee.core.data.PersonaGenerator;
import org.persephonee.core.data.LabelSpace;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.data.PersonalImage;
import org.persephonee.core.eval.CascadeResult;
import org.persephonee.core.eval.Confidence;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.export.BundleWriter;
import org.persephonee.core.personalise.LabelRegime;
import org.persephonee.core.personalise.PersonalisationConfig;
import org.persephonee.core.personalise.PersonalisationJob;
import org.persephonee.core.personalise.PersonalisationResult;
import org.persephonee.core.personalise.ResumeState;
import org.persephonee.core.pipeline.PersonalisePipeline;
import org.persephonee.core.review.ReviewQueue;
import org.persephonee.core.util.Vectors;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * The active-learning bench: a simulated person labels their photos from 0 % labels, the true classes
 * ({@code sample-data/truth}) answering for them. In the lab's order (a {@link ReviewQueue.Ranking}, re-ranked after
 * each batch from the run on the labels so far) or in a random order, personalisation runs again after each batch,
 * and the test images score it.
 *
 * @param bbDir backbone folder
 * @param personas folder holding the sample personas and their {@code truth/}
 * @param names the personas to run
 * @param budgets labels reviewed at each point, ascending (e.g. 10, 20, 50, 100)
 * @param rankings the rankings to compare ({@link ReviewQueue.Ranking#RANDOM} runs {@code randomOrders} orders)
 * @param randomOrders seeded random orders per point
 * @param epochs training epochs
 * @param seed seed of every run (the random orders use 1, 2, ...)
 * @param reservedFrom the Fashion-MNIST folder to score on 100 images per class rendered from the reserved test images
 *                     8000-9999 with the persona's shift instead of the persona's own test images (for choosing the
 *                     ranking off the images the README reports on), or null
 * @param updateEpochs 0: every batch personalises from scratch; else each batch updates the run before it, as the
 *                     lab does with "Update the last run" ticked (its BatchNorm statistics, label space and heads,
 *                     a feature memo, this many epochs)
 * @param deviceProfile a latency profile (device profile JSON) every run chooses its operating point with, or null:
 *                      each persona's first run measures one and every later run of that persona chooses with it
 *                      (as the replay bench does), so two runs of the same photos cannot differ by the timer's noise
 * @param classesNamed whether the person names their classes before reviewing any photo ({@code --classes}): every
 *                     run's label space is then the persona's classes (and those of the reviewed labels)
 */
public record ActiveBench(Path bbDir, Path personas, List<String> names, List<Integer> budgets,
                          List<ReviewQueue.Ranking> rankings, int randomOrders, int epochs, long seed,
                          Path reservedFrom, int updateEpochs, Path deviceProfile, boolean classesNamed) {

    /** A bench whose person names no class (the label space comes from the labels, or is guessed). */
    public ActiveBench(Path bbDir, Path personas, List<String> names, List<Integer> budgets,
                       List<ReviewQueue.Ranking> rankings, int randomOrders, int epochs, long seed,
                       Path reservedFrom, int updateEpochs, Path deviceProfile) {
        this(bbDir, personas, names, budgets, rankings, randomOrders, epochs, seed, reservedFrom, updateEpochs,
                deviceProfile, false);
    }

    /** A bench that measures one latency profile per persona. */
    public ActiveBench(Path bbDir, Path personas, List<String> names, List<Integer> budgets,
                       List<ReviewQueue.Ranking> rankings, int randomOrders, int epochs, long seed,
                       Path reservedFrom, int updateEpochs) {
        this(bbDir, personas, names, budgets, rankings, randomOrders, epochs, seed, reservedFrom, updateEpochs, null);
    }

    /**
     * One point of a curve.
     *
     * @param persona the persona
     * @param ranking the order labels were given in
     * @param order the random order's seed (0 for a ranking)
     * @param labels labels reviewed
     * @param classes classes of the run's label space
     * @param operatingPoint test accuracy of the operating point
     * @param speedup its latency speed-up over the personalised final exit
     * @param bestHead test accuracy of the best single head (exits and final exit)
     * @param finalExit test accuracy of the personalised final exit
     * @param seconds wall time of the run
     */
    public record Point(String persona, String ranking, long order, int labels, int classes, double operatingPoint,
                        double speedup, double bestHead, double finalExit, double seconds) { }

    /** Every point, and the markdown table of medians. */
    public record Result(List<Point> points, String markdown) { }

    /** Runs the bench, progress on {@code err}. */
    public Result run(PrintStream err) throws Exception {
        List<Point> points = new ArrayList<>();
        List<Path> reservedDirs = new ArrayList<>();
        List<Path> measuredProfiles = new ArrayList<>();
        Path work = updateEpochs > 0 ? Files.createTempDirectory("persephonee-active-updates") : null;
        try (Backbone bb = BackboneIO.load(bbDir)) {
            for (String name : names) {
                Path dir = personas.resolve(name);
                if (!Files.isDirectory(dir)) {
                    throw new IllegalArgumentException(dir + ": sample persona missing (run make-personas)");
                }
                PersonalDataset given = new ImageImporter(new LabelSpace(bb.classNames()), bb.input())
                        .importFolder(dir, null, () -> false).dataset();
                PersonalDataset truth = SampleBench.withTruth(given, personas, name);
                Map<Path, String> oracle = new HashMap<>();
                List<PersonalImage> stripped = new ArrayList<>();
                for (PersonalImage i : truth.images()) {
                    if (i.split() == PersonalImage.Split.TRAIN) {
                        oracle.put(i.path(), i.label());
                        stripped.add(i.withLabel(null));
                    } else {
                        stripped.add(i);
                    }
                }
                if (reservedFrom != null) {
                    stripped.removeIf(i -> i.split() == PersonalImage.Split.TEST);
                    Path dirR = Files.createTempDirectory("persephonee-active-reserved");
                    PersonaGenerator gen = new PersonaGenerator(FashionMnist.load(reservedFrom,
                            FashionMnist.Split.TEST), seed);
                    PersonaGenerator.Persona recipe = PersonaGenerator.samples().stream()
                            .filter(x -> x.name().equals(name)).findFirst().orElseThrow(() ->
                                    new IllegalArgumentException(name + ": not a sample persona"));
                    gen.renderReserved(recipe, 100, dirR);
                    reservedDirs.add(dirR);
                    stripped.addAll(new ImageImporter(new LabelSpace(bb.classNames()), bb.input())
                            .importFolder(dirR, null, () -> false).dataset().images());
                }
                PersonalDataset start = new PersonalDataset(given.root(), stripped);
                // the latency profile every run of this persona chooses with: the one given, or its first run's
                Latency profile = new Latency(deviceProfile, measuredProfiles);
                Point zero = null;
                for (ReviewQueue.Ranking how : rankings) {
                    int orders = how == ReviewQueue.Ranking.RANDOM ? randomOrders : 1;
                    for (int o = 1; o <= orders; o++) {
                        long order = how == ReviewQueue.Ranking.RANDOM ? o : 0;
                        Set<Path> reviewed = new HashSet<>();
                        List<Path> randomOrder = null;
                        if (how == ReviewQueue.Ranking.RANDOM) {
                            randomOrder = new ArrayList<>(oracle.keySet());
                            randomOrder.sort(null);
                            java.util.Collections.shuffle(randomOrder, new Random(order));
                        }
                        PersonalisePipeline.Outcome last = null;
                        // updates: the bundle the next run carries on from, and the memo of the frozen pass
                        Path[] previous = new Path[1];
                        Path memo = work == null ? null : work.resolve(name + "-" + how + "-" + order + "-memo");
                        try {
                            for (int budget : budgets) {
                                if (how != ReviewQueue.Ranking.RANDOM) {
                                    if (last == null) {
                                        last = runAt(bb, start, oracle, reviewed, true, memo, previous, profile);
                                        if (zero == null) {
                                            zero = point(name, "none", 0, 0, last,
                                                    last.result().timing().total());
                                            points.add(zero);
                                            err.println("active bench: " + describe(zero));
                                        }
                                    }
                                    CascadeResult c = last.choice().cascade();
                                    for (ReviewQueue.Candidate cand : ReviewQueue.rank(last.result(), c.exits(),
                                            c.thresholds(), how, seed)) {
                                        if (reviewed.size() >= budget) {
                                            break;
                                        }
                                        reviewed.add(cand.image().path());
                                    }
                                    last.close();
                                } else {
                                    for (Path p : randomOrder.subList(0, Math.min(budget, randomOrder.size()))) {
                                        reviewed.add(p);
                                    }
                                }
                                long t0 = System.nanoTime();
                                if (how == ReviewQueue.Ranking.RANDOM && memo != null && previous[0] == null) {
                                    // the random order's updates carry on from its own run with no labels
                                    runAt(bb, start, oracle, Set.of(), false, memo, previous, profile).close();
                                }
                                last = runAt(bb, start, oracle, reviewed, how != ReviewQueue.Ranking.RANDOM, memo,
                                        previous, profile);
                                Point pt = point(name, how.display(), order, reviewed.size(), last,
                                        (System.nanoTime() - t0) / 1e9);
                                points.add(pt);
                                err.println("active bench: " + describe(pt));
                                if (how == ReviewQueue.Ranking.RANDOM) {
                                    last.close();
                                    last = null;
                                }
                            }
                        } finally {
                            if (last != null) {
                                last.close();
                            }
                        }
                    }
                }
            }
        } finally {
            for (Path d : reservedDirs) {
                org.persephonee.core.util.FileTrees.delete(d);
            }
            if (work != null) {
                org.persephonee.core.util.FileTrees.delete(work);
            }
            for (Path f : measuredProfiles) {
                Files.deleteIfExists(f);
            }
        }
        return new Result(points, markdown(points));
    }

    /** The latency profile a persona's runs choose with: the one given, else its first run's, written to a file. */
    private static final class Latency {
        private Path file;
        private final List<Path> written;

        Latency(Path given, List<Path> written) {
            this.file = given;
            this.written = written;
        }
    }

    private PersonalisePipeline.Outcome runAt(Backbone bb, PersonalDataset start, Map<Path, String> oracle,
                                              Set<Path> reviewed, boolean chosen, Path memo, Path[] previous,
                                              Latency profile) throws Exception {
        List<PersonalImage> imgs = new ArrayList<>();
        for (PersonalImage i : start.images()) {
            imgs.add(reviewed.contains(i.path()) ? i.withLabel(oracle.get(i.path())) : i);
        }
        PersonalisationConfig.Builder cfg = PersonalisationConfig.builder().setPlacements(ExitPlacement.auto(bb))
                .optLabels(reviewed.isEmpty() ? LabelRegime.NONE : LabelRegime.ALL).optEpochs(epochs).optSeed(seed)
                .optEvalEveryEpoch(false).optLabelsChosen(chosen)
                .optClasses(classesNamed ? oracle.values().stream().distinct().sorted().toList() : List.of());
        if (memo != null) {
            cfg.optFeatureMemo(memo);
            if (previous[0] != null) {
                cfg.optResume(ResumeState.read(previous[0])).optEpochs(updateEpochs);
            }
        }
        PersonalisePipeline.Outcome o = PersonalisePipeline.run(bb, new PersonalDataset(start.root(), imgs),
                cfg.build(), new PersonalisePipeline.Options(PersonalisePipeline.Options.DEFAULT_MAX_DROP,
                        Confidence.MAX_SOFTMAX, false, profile.file, 15), PersonalisationJob.SILENT, () -> false);
        if (profile.file == null) {
            try {
                Path f = Files.createTempFile("persephonee-active-latency", ".json");
                profile.written.add(f);
                Files.writeString(f, new com.google.gson.Gson().toJson(o.profile().toMap()));
                profile.file = f;
            } catch (Exception | Error e) {
                o.close();
                throw e;
            }
        }
        if (memo != null) {
            try {
                previous[0] = BundleWriter.write(memo.resolveSibling(memo.getFileName() + "-bundle-" + reviewed.size()),
                        bb, o.result(), o.evaluation(), o.choice());
            } catch (Exception | Error e) {
                o.close();
                throw e;
            }
        }
        return o;
    }

    private static Point point(String persona, String ranking, long order, int labels, PersonalisePipeline.Outcome o,
                               double seconds) {
        PersonalisationResult r = o.result();
        double best = r.finalAccuracy();
        for (int i = 0; i < r.heads().size(); i++) {
            best = Math.max(best, r.exitAccuracy(i));
        }
        return new Point(persona, ranking, order, labels, r.labelSpace().size(), o.choice().cascade().accuracy(),
                o.choice().speedup(), best, r.finalAccuracy(), seconds);
    }

    private static String describe(Point p) {
        return String.format(Locale.ROOT, "%s, %s%s, %d labels: %d classes, operating point %.1f%% at %.2fx, best "
                        + "head %.1f%%, final %.1f%% (%.0f s)", p.persona(), p.ranking(),
                p.order() > 0 ? " #" + p.order() : "", p.labels(), p.classes(), 100 * p.operatingPoint(),
                p.speedup(), 100 * p.bestHead(), 100 * p.finalExit(), p.seconds());
    }

    /** Medians over random orders: one row per persona, ranking and number of labels. */
    static String markdown(List<Point> points) {
        Map<String, List<Point>> groups = new LinkedHashMap<>();
        for (Point p : points) {
            groups.computeIfAbsent(p.persona() + "\u0000" + p.ranking() + "\u0000" + p.labels(),
                    k -> new ArrayList<>()).add(p);
        }
        StringBuilder sb = new StringBuilder("| persona | order | labels reviewed | runs | classes | operating point "
                + "(test) | speed-up | best head (test) | final exit (test) |\n"
                + "|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (List<Point> g : groups.values()) {
            Point f = g.get(0);
            sb.append(String.format(Locale.ROOT, "| %s | %s | %d | %d | %s | %.1f%% | %.2fx | %.1f%% | %.1f%% |%n",
                    f.persona(), f.ranking(), f.labels(), g.size(),
                    g.stream().map(p -> Integer.toString(p.classes())).distinct().reduce((a, b) -> a + "/" + b)
                            .orElse(""),
                    100 * med(g, Point::operatingPoint), med(g, Point::speedup), 100 * med(g, Point::bestHead),
                    100 * med(g, Point::finalExit)));
        }
        return sb.toString();
    }

    private static double med(List<Point> g, java.util.function.ToDoubleFunction<Point> f) {
        return Vectors.lowerMedian(g.stream().mapToDouble(f).toArray());
    }
}
