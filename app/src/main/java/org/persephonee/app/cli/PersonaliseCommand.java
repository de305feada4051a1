package org.persephonee.app.cli;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.data.ImageImporter;
import org.persephonee.core.data.LabelSpace;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.eval.Confidence;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;
import org.persephonee.core.export.BundleTarget;
import org.persephonee.core.export.BundleWriter;
import org.persephonee.core.personalise.BnMode;
import org.persephonee.core.personalise.FeatureStore;
import org.persephonee.core.personalise.LabelRegime;
import org.persephonee.core.personalise.PersonalisationConfig;
import org.persephonee.core.personalise.ResumeState;
import org.persephonee.core.personalise.Teacher;
import org.persephonee.core.personalise.UnlabelledRule;
import org.persephonee.core.pipeline.PersonalisePipeline;
import org.persephonee.core.pipeline.PersonaliseReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** {@code personalise}: trains exits on one person's images and exports the tuned bundle. */
@Command(name = "personalise",
        customSynopsis = "persephonee personalise --backbone DIR --data PERSONA_DIR --out BUNDLE_DIR [options]",
        description = "train early exits on a person's images and export a bundle")
public final class PersonaliseCommand extends CliCommand {
    /** What the operating point minimises. */
    enum Cost { MS, MACS }

    @Option(names = "--backbone", required = true, paramLabel = "DIR",
            description = "backbone folder (declarative, or a TorchScript stage bundle)")
    Path bbDir;

    @Option(names = "--data", required = true, paramLabel = "PERSONA_DIR",
            description = "the person's images (labelled/<class>/, unlabelled/, test/<class>/, or class folders)")
    Path dataDir;

    @Option(names = "--out", required = true, paramLabel = "BUNDLE_DIR", description = "bundle folder to write")
    Path outDir;

    @Option(names = "--exits", paramLabel = "STAGE:HEAD,...|auto",
            description = "exits to train (heads: grid, grid2, linear, conv, conv32x2, mlp, mlp128); default auto "
                    + "(with --resume: the resumed bundle's exits)")
    String exits;

    @Option(names = "--auto-head", paramLabel = "HEAD", description = "head type used by auto (default grid)")
    String autoHead = "grid";

    @Option(names = "--labels", paramLabel = "all|none|FRACTION", description = "which labels to use (default all)")
    String labels = "all";

    @Option(names = "--classes", paramLabel = "NAME,...", split = ",", description = {"the person's classes, named "
            + "instead of labelling photos (with --labels none, or besides the labelled classes): the label space is "
            + "these and the labelled ones; default: the labelled classes, or with no labels those the backbone "
            + "predicts confidently, which a capture shift misleads (night-owl: 7 for its 5)"})
    List<String> classes = List.of();

    @Option(names = "--max-drop", paramLabel = "POINTS",
            description = "accuracy the operating point may give up against the best single head, each class weighing the "
                    + "same, judged on the training images out of fold (default ${DEFAULT-VALUE})")
    double maxDrop = PersonalisePipeline.Options.DEFAULT_MAX_DROP;

    @Option(names = "--seed", paramLabel = "N", description = "default ${DEFAULT-VALUE}")
    long seed = PersonalisationConfig.DEFAULT_SEED;

    @Option(names = "--epochs", paramLabel = "N", description = "head training epochs (default "
            + PersonalisationConfig.DEFAULT_EPOCHS + "; " + RESUME_EPOCHS + " with --resume)")
    Integer epochs;

    static final int RESUME_EPOCHS = PersonalisationConfig.DEFAULT_RESUME_EPOCHS;

    @Option(names = "--lr", paramLabel = "X", description = "head learning rate (default ${DEFAULT-VALUE})")
    double lr = PersonalisationConfig.DEFAULT_LEARNING_RATE;

    @Option(names = "--unlabelled", paramLabel = "pseudo|distill|both|ignore",
            description = "teacher rule for unlabelled images (default both)")
    UnlabelledRule unlabelled = UnlabelledRule.BOTH;

    @Option(names = "--pseudo-threshold", paramLabel = "X",
            description = "teacher confidence for a pseudo-label (default ${DEFAULT-VALUE})")
    double pseudoThreshold = PersonalisationConfig.DEFAULT_PSEUDO_LABEL_THRESHOLD;

    @Option(names = "--temperature", paramLabel = "T", description = "distillation temperature (default 2)")
    double temperature = PersonalisationConfig.DEFAULT_TEMPERATURE;

    @Option(names = "--teacher", paramLabel = "final|ensemble",
            description = {"who teaches the exits on unlabelled images: the final exit (the paper), or a second round "
                    + "taught by the first round's late ensemble (default " + DEFAULT_TEACHER_NAME + ")"})
    Teacher teacher = PersonalisationConfig.DEFAULT_TEACHER;

    @Option(names = "--bn", paramLabel = "keep|adapt|auto", description = "BatchNorm statistics (default auto)")
    BnMode bn = BnMode.AUTO;

    @Option(names = "--no-refit", description = "keep the backbone's classifier as the final exit")
    boolean noRefit;

    @Option(names = "--refit-always", description = {"re-fit the final classifier on the labels without checking it "
            + "out of fold against the backbone's (the paper's method); by default a re-fit that is worse on the "
            + "labelled photos is dropped"})
    boolean refitAlways;

    @Option(names = "--final-alone", description = {"keep the final exit alone (the paper's) instead of averaging it "
            + "with the later half of the exits where that is better on the labelled training photos out of fold, "
            + "or where there are no labels"})
    boolean finalAlone;

    @Option(names = "--full-data-heads", description = {"deploy heads trained once more on all the training images "
            + "instead of the mean of the cross-fitted folds' heads (the heads every choice was made with)"})
    boolean fullDataHeads;

    @Option(names = "--retrain-last", paramLabel = "N",
            description = "also re-train a copy of the last N stages under the re-fitted final exit, from the cached "
                    + "input of the first (default 0; needs labels and a declarative backbone; auto exits skip those "
                    + "stages)")
    int retrainLast;

    @Option(names = "--confidence", paramLabel = "max-softmax|entropy", converter = ConfidenceConverter.class,
            description = "what a confidence threshold is compared with (default max-softmax)")
    Confidence confidence = Confidence.MAX_SOFTMAX;

    @Option(names = "--device-profile", paramLabel = "FILE",
            description = "latency profile JSON instead of measuring here")
    Path deviceProfile;

    @Option(names = "--cost", paramLabel = "ms|macs", description = "what the operating point minimises (default ms)")
    Cost cost = Cost.MS;

    @Option(names = "--cache-budget-mb", paramLabel = "N",
            description = "feature cache heap budget before spilling to disk (default ${DEFAULT-VALUE})")
    long cacheBudgetMb = 1024;

    @Option(names = "--feature-cache", paramLabel = "DIR",
            description = "keep the frozen pass's rows here between runs: the backbone then runs only on photos "
                    + "it has not seen with the same weights and BatchNorm statistics (size-capped at 512 MB)")
    Path featureCache;

    @Option(names = "--resume", paramLabel = "BUNDLE",
            description = "carry on from a bundle written by an earlier personalise run: its BatchNorm statistics, "
                    + "label space and exits; the heads warm-start from its weights for --epochs (default 3 when "
                    + "resuming) and the operating point is chosen on its held-out predictions plus the new "
                    + "photos' (no cross-fitting); use with --feature-cache so old photos skip the backbone. With "
                    + "nothing new (same photos, labels and settings) the heads are kept untrained; a photo of the "
                    + "bundle with another label makes them start fresh, cross-fitted, for the first run's epochs")
    Path resume;

    @Option(names = "--force",
            description = "export even when the result looks broken (below the generic backbone or near chance)")
    boolean force;

    @Option(names = "--review", paramLabel = "N", description = "after the run, list the N unlabelled training "
            + "photos a label would help most (the surest photo of each class first, then the least certain of each "
            + "class; from out-of-fold predictions)")
    int review;

    @Option(names = "--review-out", paramLabel = "FILE.csv", description = "with --review: write them as a CSV "
            + "(path,label,guesses,exit) whose blank label column you fill in; saved as labels.csv in the data "
            + "folder it labels them for the next run (with --labels-chosen)")
    Path reviewOut;

    @Option(names = "--labels-chosen", description = "the labels were chosen by a review (not a random sample): "
            + "recorded with the run (choices score every training photo whenever some are unlabelled, chosen or "
            + "not)")
    boolean labelsChosen;

    @Option(names = "--json", description = "print the report as JSON")
    boolean json;

    /** The default teacher's option value, for the help text (a test keeps it equal to the config's default). */
    static final String DEFAULT_TEACHER_NAME = "ensemble";

    /** {@code max-softmax} / {@code entropy} to {@link Confidence}. */
    static final class ConfidenceConverter implements CommandLine.ITypeConverter<Confidence> {
        @Override
        public Confidence convert(String value) {
            return Confidence.valueOf(value.trim().replace('-', '_').toUpperCase(Locale.ROOT));
        }
    }

    @Override
    protected int run(PrintStream out, PrintStream err) throws Exception {
        if (!Files.isDirectory(dataDir)) {
            throw new CliException(dataDir + ": no such folder");
        }
        if (Files.exists(outDir) && !Files.isDirectory(outDir)) {
            throw new CliException(outDir + ": exists and is not a folder");
        }
        if (review < 0) {
            throw new CliException("--review must be >= 0");
        }
        if (reviewOut != null && review == 0) {
            throw new CliException("--review-out needs --review N");
        }
        if (maxDrop < 0) {
            throw new CliException("--max-drop must be >= 0");
        }
        if (noRefit && refitAlways) {
            throw new CliException("--no-refit and --refit-always contradict each other: give one");
        }
        PersonalisationConfig.Builder b = PersonalisationConfig.builder();
        PersonalisePipeline.Options opt;
        try {
            b.optLabels(LabelRegime.parse(labels))
                    .optSeed(seed)
                    .optEpochs(epochs != null ? epochs : resume != null ? RESUME_EPOCHS
                            : PersonalisationConfig.DEFAULT_EPOCHS)
                    .optLearningRate((float) lr)
                    .optPseudoLabelThreshold((float) pseudoThreshold)
                    .optTemperature((float) temperature)
                    .optUnlabelledRule(unlabelled)
                    .optBnMode(bn)
                    .optRefitFinal(!noRefit).optRefitChecked(!refitAlways)
                    .optRetrainLast(retrainLast)
                    .optTeacher(teacher)
                    .optLabelsChosen(labelsChosen)
                    .optClasses(classes)
                    .optFinalEnsemble(!finalAlone)
                    .optFoldAverage(!fullDataHeads)
                    .optCacheBudgetBytes(cacheBudgetMb * 1024 * 1024)
                    .optFeatureMemo(featureCache);
            opt = new PersonalisePipeline.Options(maxDrop, confidence, cost == Cost.MACS, deviceProfile, 30);
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage());
        }
        // --out is checked and locked before any work: a folder that is not a bundle, or one another run is
        // writing, is refused now rather than after training; leftovers of an interrupted run are repaired
        try (BundleTarget target = BundleWriter.checkTarget(outDir)) {
            target.notes().forEach(err::println);
            Path spillDir = Path.of(System.getProperty("java.io.tmpdir"));
            FeatureStore.Removed stale = FeatureStore.removeStaleSpills(spillDir);
            if (stale.files() > 0) {
                err.println(stale.describe(spillDir));
            }
            try (Backbone bb = BackboneIO.load(bbDir)) {
                List<ExitPlacement> placements;
                String exits = this.exits;
                if (resume != null) {
                    try {
                        ResumeState state = ResumeState.read(resume);
                        b.optResume(state);
                        if (exits == null) {
                            exits = String.join(",", state.exitKeys());
                        }
                    } catch (java.io.IOException e) {
                        throw new CliException("--resume: " + e.getMessage());
                    }
                }
                if (exits == null) {
                    exits = "auto";
                }
                try {
                    placements = exits.equals("auto")
                            ? ExitPlacement.auto(bb, HeadSpec.parse(autoHead))
                            : ExitPlacement.parseList(exits);
                    int retrain = retrainLast;
                    if (exits.equals("auto") && retrain > 0) {
                        // auto exits stop before the re-trained stages (an exit there would read the frozen stage)
                        int first = bb.stages().size() - retrain;
                        placements = placements.stream().filter(p -> bb.stage(p.stage()).index() < first).toList();
                    }
                    b.setPlacements(placements);
                    b.build();
                } catch (IllegalArgumentException e) {
                    throw new CliException(e.getMessage());
                }
                ImageImporter.Result imp = new ImageImporter(new LabelSpace(bb.classNames()), bb.input())
                        .importFolder(dataDir, null, () -> false);
                if (!imp.skipped().isEmpty()) {
                    err.println("skipped " + imp.skipped().size() + " file(s):");
                    imp.skipped().stream().limit(20).forEach(s -> err.println("  " + s));
                    if (imp.skipped().size() > 20) {
                        err.println("  ... and " + (imp.skipped().size() - 20) + " more");
                    }
                }
                PersonalDataset ds = imp.dataset();
                err.println("data: " + ds);
                try (PersonalisePipeline.Outcome o = PersonalisePipeline.run(bb, ds, b.build(), opt, PersonaliseOutput.progress(err),
                        () -> false)) {
                    List<String> problems = PersonalisePipeline.problems(o);
                    problems.forEach(p -> err.println("warning: " + p));
                    boolean write = problems.isEmpty() || force;
                    Path bundle = write ? BundleWriter.write(target, bb, o.result(), o.evaluation(), o.choice()) : null;
                    PersonaliseReport report = PersonaliseReport.of(o, bundle);
                    if (json) {
                        out.println(Json.of(report));
                    } else {
                        PersonaliseOutput.printSummary(out, report);
                    }
                    if (review > 0) {
                        ReviewList.emit(o, dataDir, review, reviewOut, json ? err : out);
                    }
                    if (!write) {
                        err.println("error: nothing was exported to " + outDir + ": the result looks broken (see the "
                                + "warnings); pass --force to export it anyway");
                        return 1;
                    }
                }
            }
        }
        return 0;
    }
}
