package org.persephonee.app.cli;

import org.persephonee.core.bench.ActiveBench;
import org.persephonee.core.bench.ReplayBench;
import org.persephonee.core.bench.BusyBench;
import org.persephonee.core.bench.PeerBench;
import org.persephonee.core.bench.SampleBench;
import org.persephonee.core.bench.SeedMedians;
import org.persephonee.core.data.FashionMnist;
import org.persephonee.core.personalise.PersonalisationConfig;
import org.persephonee.core.review.ReviewQueue;
import org.persephonee.core.util.AtomicFiles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code bench}: for each sample persona and label regime (100%, ~10%, 0% of training images labelled),
 * compares the generic backbone, exit-only personalisation and full fine-tuning.
 */
@Command(name = "bench", customSynopsis = "persephonee bench [--quick | --busy | --peer | --active | --replay] [--json FILE] [--markdown FILE] "
        + "[--backbone DIR] [--personas DIR] [--seed N | --seeds LIST]",
        description = "benchmark generic vs exit-only vs full fine-tuning on the sample personas")
public final class BenchCommand extends CliCommand {
    @Option(names = "--quick", description = "5 epochs and the ~10%% regime only (under a minute)")
    boolean quick;

    @Option(names = "--busy", description = "night-owl, ~10%% labels, auto exits: training time idle and with one "
            + "busy-loop process per core (started by the bench), adaptive vs fixed thread policy")
    boolean busy;

    @Option(names = "--peer", description = "frozen pass and head training here vs tools/peer-personalise.py (plain "
            + "PyTorch) on the same stage bundle (default fmnist-mobilenetv2-ts) and persona (--persona, night-owl)")
    boolean peer;

    @Option(names = "--active", description = "active-learning curves from 0%% labels: the true classes answer for the "
            + "person in the lab's review order (re-ranked after each batch) and in random orders; accuracy after each "
            + "batch (--budgets, --rankings, --orders)")
    boolean active;

    @Option(names = "--replay", description = "the person's training photos arrive in --chunks parts: after each, "
            + "personalisation from scratch vs an update of the last one (--resume with the feature memo); cost and "
            + "test accuracy per part, medians over --seeds")
    boolean replay;

    @Option(names = "--chunks", paramLabel = "N", description = "with --replay: parts (default ${DEFAULT-VALUE})")
    int chunks = 5;

    @Option(names = "--update-epochs", paramLabel = "N", description = "with --replay or --active --as-updates: epochs of an update "
            + "(default ${DEFAULT-VALUE}, as personalise --resume)")
    int updateEpochs = PersonaliseCommand.RESUME_EPOCHS;

    @Option(names = "--seeds", paramLabel = "LIST", split = ",",
            description = "with --replay: one replay per seed (default 42,7,1); without another mode: the bench once "
                    + "per seed, then a table of medians over the seeds per persona and regime")
    List<Long> seeds;

    @Option(names = "--budgets", paramLabel = "LIST", split = ",",
            description = "with --active: labels reviewed at each point (default 10,20,50,100)")
    List<Integer> budgets = List.of(10, 20, 50, 100);

    @Option(names = "--rankings", paramLabel = "LIST", split = ",", converter = RankingConverter.class,
            description = "with --active: orders to compare, from margin, least-confident, disagreement, balanced, "
                    + "coverage, surest, random (default coverage,random)")
    List<ReviewQueue.Ranking> rankings = List.of(ReviewQueue.DEFAULT, ReviewQueue.Ranking.RANDOM);

    @Option(names = "--plot", paramLabel = "FILE.png", description = "with --active: write the curves as a PNG")
    Path plotFile;

    @Option(names = "--on-reserved", description = "with --active: score on 100 images per class rendered from the "
            + "reserved test images 8000-9999 (--data) instead of the persona's test images")
    boolean scoreOnReserved;

    @Option(names = "--as-updates", description = "with --active: each batch updates the run before it (--resume "
            + "with the feature memo, --update-epochs), as the lab does with \"Update the last run\" ticked, instead "
            + "of personalising from scratch")
    boolean asUpdates;

    @Option(names = "--classes-named", description = "with --active: the person names their classes before "
            + "reviewing (personalise --classes), so no run guesses them")
    boolean classesNamed;

    @Option(names = "--orders", paramLabel = "N", description = "with --active: random orders per point (default "
            + "${DEFAULT-VALUE})")
    int orders = 3;

    /** Reads a ranking by name. */
    static final class RankingConverter implements picocli.CommandLine.ITypeConverter<ReviewQueue.Ranking> {
        @Override
        public ReviewQueue.Ranking convert(String value) {
            return ReviewQueue.Ranking.parse(value);
        }
    }

    @Option(names = "--epochs", paramLabel = "N", description = "epochs for both methods (default 10; 5 with --quick)")
    Integer epochsOption;

    @Option(names = "--repeats", paramLabel = "N", description = "training runs per method and row (with --replay: "
            + "per method and part); the median time is reported (default 3; 5 with --busy or --peer)")
    Integer repeatsOption;

    @Option(names = "--retrain-last", paramLabel = "N", description = "also run exits + the last N stages re-trained "
            + "from the cache under the re-fitted final head (default ${DEFAULT-VALUE}; 0 leaves the row out)")
    int retrainLast = SampleBench.DEFAULT_RETRAIN;

    @Option(names = "--teacher", paramLabel = "final|ensemble",
            description = "who teaches the exits on unlabelled images (default "
                    + PersonaliseCommand.DEFAULT_TEACHER_NAME + ")")
    org.persephonee.core.personalise.Teacher teacher = PersonalisationConfig.DEFAULT_TEACHER;

    @Option(names = "--persona", paramLabel = "NAME", description = "only this sample persona (default both)")
    String only;

    @Option(names = "--regimes", paramLabel = "LIST",
            description = "only these label regimes, comma-separated from 100%%,~10%%,0%%,0%%+classes (0%% labels, "
                    + "the persona's classes named; default all four)")
    String regimesOption;

    @Option(names = "--seed", paramLabel = "N", description = "default ${DEFAULT-VALUE}")
    long seed = PersonalisationConfig.DEFAULT_SEED;

    @Option(names = "--json", paramLabel = "FILE", description = "write every row and ratio as JSON")
    Path jsonFile;

    @Option(names = "--markdown", paramLabel = "FILE", description = "write the table as markdown")
    Path markdownFile;

    @Option(names = "--backbone", paramLabel = "DIR", description = "default sample-models/fmnist-resnet9")
    Path backboneOption;

    @Option(names = "--personas", paramLabel = "DIR", description = "default sample-data")
    Path personasOption;

    @Option(names = "--data", paramLabel = "DIR", description = "Fashion-MNIST IDX folder (default "
            + FashionMnist.DEBIAN_DIR_NAME + "): when present, each exported bundle is also run image by image on "
            + "100 images per class rendered from the reserved test images 8000-9999 with the persona's shift (never "
            + "written to the repo)")
    Path fmnist = FashionMnist.DEBIAN_DIR;

    @Override
    protected int run(PrintStream out, PrintStream err) throws Exception {
        Path home = Path.of(System.getProperty("persephonee.home", "."));
        Path bbDir = backboneOption != null ? backboneOption : home.resolve("sample-models")
                .resolve(peer ? "fmnist-mobilenetv2-ts" : PretrainCommand.SAMPLE_ID);
        Path personas = personasOption != null ? personasOption : home.resolve("sample-data");
        int repeats = Math.max(1, repeatsOption != null ? repeatsOption : busy || peer ? 5 : 3);
        int epochs = epochsOption != null ? epochsOption : quick ? 5 : PersonalisationConfig.DEFAULT_EPOCHS;
        long t0 = System.nanoTime();
        Object json;
        if (busy) {
            json = new BusyBench(bbDir, personas, epochs, repeats, seed).run(out, err);
        } else if (active) {
            List<String> names = only != null ? List.of(only) : List.of("night-owl", "tilted-phone");
            ActiveBench.Result r = new ActiveBench(bbDir, personas, names, List.copyOf(budgets), List.copyOf(rankings),
                    orders, epochs, seed, scoreOnReserved ? fmnist : null, asUpdates ? updateEpochs : 0, null,
                    classesNamed).run(err);
            out.print(r.markdown());
            if (markdownFile != null) {
                AtomicFiles.writeString(markdownFile, r.markdown());
            }
            if (plotFile != null) {
                ActivePlot.write(r.points(), plotFile);
            }
            json = r.points();
            err.printf(Locale.ROOT, "bench: done in %s%n", Durations.format((System.nanoTime() - t0) / 1e9));
        } else if (replay) {
            List<String> names = only != null ? List.of(only) : List.of("night-owl", "tilted-phone");
            ReplayBench.Result r = new ReplayBench(bbDir, personas, names, chunks,
                    seeds != null ? List.copyOf(seeds) : List.of(42L, 7L, 1L),
                    updateEpochs, repeats).run(err);
            out.print(r.markdown());
            if (markdownFile != null) {
                AtomicFiles.writeString(markdownFile, r.markdown());
            }
            json = r.points();
            err.printf(Locale.ROOT, "bench: done in %s%n", Durations.format((System.nanoTime() - t0) / 1e9));
        } else if (peer) {
            json = new PeerBench(home, bbDir, personas.resolve(only != null ? only : "night-owl"), epochs, repeats,
                    seed).run(out, err);
        } else {
            List<String> regimes = regimesOption != null ? List.of(regimesOption.split(","))
                    : quick ? List.of("~10%") : SampleBench.REGIMES;
            List<Long> runSeeds = seeds != null ? List.copyOf(seeds) : List.of(seed);
            Map<Long, Map<String, Object>> bySeed = new LinkedHashMap<>();
            StringBuilder md = new StringBuilder();
            for (long s : runSeeds) {
                SampleBench bench;
                try {
                    bench = new SampleBench(bbDir, personas, fmnist, epochs, repeats, s, regimes, only, retrainLast,
                            teacher, quick);
                } catch (IllegalArgumentException e) {
                    throw new CliException("--regimes: " + e.getMessage());
                }
                if (seeds != null) {
                    err.printf(Locale.ROOT, "bench: seed %d%n", s);
                }
                SampleBench.Result r = bench.run(err);
                bySeed.put(s, r.json());
                md.append(seeds == null ? "" : String.format(Locale.ROOT, "%n## Seed %d%n%n", s)).append(r.markdown());
            }
            if (seeds == null) {
                json = bySeed.get(seed);
            } else {
                List<SeedMedians.Row> medians = SeedMedians.of(bySeed);
                md.insert(0, "## Medians over seeds " + runSeeds + "\n\n" + SeedMedians.markdown(medians, 1.0));
                Map<String, Object> all = new LinkedHashMap<>();
                all.put("seeds", runSeeds);
                all.put("medians", SeedMedians.json(medians));
                all.put("runs", bySeed);
                json = all;
            }
            out.print(md);
            if (markdownFile != null) {
                AtomicFiles.writeString(markdownFile, md.toString());
            }
            err.printf(Locale.ROOT, "bench: done in %s%n", Durations.format((System.nanoTime() - t0) / 1e9));
        }
        if (jsonFile != null) {
            AtomicFiles.writeString(jsonFile, Json.of(json) + "\n");
        }
        return 0;
    }
}
