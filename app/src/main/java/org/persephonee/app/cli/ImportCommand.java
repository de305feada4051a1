package org.persephonee.app.cli;

import com.google.gson.annotations.SerializedName;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.data.ImageImporter;
import org.persephonee.core.data.LabelSpace;
import org.persephonee.core.data.PersonalImage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** {@code import}: checks a personal image folder the way the lab will read it. */
@Command(name = "import", customSynopsis = "persephonee import --data DIR [--backbone DIR] [--json]",
        description = "check a personal image folder: classes, counts, skipped files")
public final class ImportCommand extends CliCommand {
    @Option(names = "--data", required = true, paramLabel = "DIR",
            description = "persona folder (labelled/<class>/, unlabelled/, test/<class>/, or class folders)")
    Path data;

    @Option(names = "--backbone", paramLabel = "DIR",
            description = "match class folders to this backbone's class names (and check image conversion)")
    Path backbone;

    @Option(names = "--json", description = "print the counts and skipped files as JSON")
    boolean json;

    /** {@code import --json}: what the lab would read from the folder. */
    record Report(String root, int images, int labelled, int unlabelled, int test,
                  @SerializedName("train_counts") Map<String, Integer> trainCounts,
                  @SerializedName("test_counts") Map<String, Integer> testCounts, List<Skipped> skipped,
                  List<String> notes) { }

    /** A file left out, and why. */
    record Skipped(String path, String reason) { }

    @Override
    protected int run(PrintStream out, PrintStream err) throws Exception {
        LabelSpace labels = new LabelSpace(List.of());
        org.persephonee.core.backbone.InputSpec spec = null;
        if (backbone != null) {
            BackboneIO.Info info = BackboneIO.readInfo(backbone);
            labels = new LabelSpace(info.classes());
            spec = info.input();
        }
        ImageImporter.Result r = new ImageImporter(labels, spec).importFolder(data, null, () -> false);
        if (json) {
            out.println(Json.of(new Report(String.valueOf(r.dataset().root()), r.dataset().size(),
                    r.dataset().labelled().size(), r.dataset().unlabelled().size(), r.dataset().test().size(),
                    r.dataset().countsByClass(PersonalImage.Split.TRAIN), r.dataset().countsByClass(PersonalImage.Split.TEST),
                    r.skipped().stream().map(s -> new Skipped(s.path().toString(), s.reason())).toList(), r.notes())));
        } else {
            out.println(r.dataset());
            r.dataset().countsByClass(PersonalImage.Split.TRAIN).forEach((k, v) ->
                    out.printf("  %-14s %4d labelled, %4d test%n", k, v,
                            r.dataset().countsByClass(PersonalImage.Split.TEST).getOrDefault(k, 0)));
            if (!r.skipped().isEmpty()) {
                out.println("skipped " + r.skipped().size() + " file(s):");
                r.skipped().forEach(s -> out.println("  " + s));
            }
            r.notes().forEach(n -> out.println("note: " + n));
        }
        return 0;
    }
}
