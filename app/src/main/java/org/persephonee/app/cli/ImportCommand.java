package org.persephonee.app.cli;

import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.data.ImageImporter;
import org.persephonee.core.data.LabelSpace;
import org.persephonee.core.data.PersonalImage;
import org.persephonee.core.data.SkippedFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
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
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("root", String.valueOf(r.dataset().root()));
            m.put("images", r.dataset().size());
            m.put("labelled", r.dataset().labelled().size());
            m.put("unlabelled", r.dataset().unlabelled().size());
            m.put("test", r.dataset().test().size());
            m.put("train_counts", r.dataset().countsByClass(PersonalImage.Split.TRAIN));
            m.put("test_counts", r.dataset().countsByClass(PersonalImage.Split.TEST));
            List<Map<String, String>> sk = new ArrayList<>();
            for (SkippedFile s : r.skipped()) {
                sk.add(Map.of("path", s.path().toString(), "reason", s.reason()));
            }
            m.put("skipped", sk);
            m.put("notes", r.notes());
            out.println(Json.of(m));
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
