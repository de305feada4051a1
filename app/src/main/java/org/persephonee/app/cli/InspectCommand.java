package org.persephonee.app.cli;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.backbone.BackboneSource;
import org.persephonee.core.backbone.StageBundleSpec;
import org.persephonee.core.backbone.StageTable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** {@code inspect}: prints a backbone's stage table. */
@Command(name = "inspect", customSynopsis = "persephonee inspect --backbone DIR [--json]",
        description = "print a backbone's stages: output shape, MACs, parameters")
public final class InspectCommand extends CliCommand {
    @Option(names = "--backbone", required = true, paramLabel = "DIR",
            description = "backbone folder (backbone.json + parameters, or a TorchScript stage bundle)")
    Path backbone;

    @Option(names = "--json", description = "machine-readable output with a 'stages' array")
    boolean json;

    @Override
    protected int run(PrintStream out, PrintStream err) throws Exception {
        try (Backbone bb = BackboneIO.load(backbone)) {
            StageBundleSpec.Reference ref = bb.source() instanceof BackboneSource.TorchScriptStages t
                    ? t.bundle().reference : null;
            Double diff = ref != null ? BackboneIO.referenceDifference(bb) : null;
            if (json) {
                Map<String, Object> m = describe(bb);
                if (diff != null) {
                    m.put("reference_max_abs_diff", diff);
                }
                out.println(Json.of(m));
            } else {
                out.print(StageTable.text(bb));
                if (diff != null) {
                    out.printf(java.util.Locale.ROOT, "reference check: PyTorch's output reproduced here within %.2g "
                            + "(max |difference| over %d exporter images)%s%n", diff, ref.batch,
                            diff <= 1e-4 * Math.max(1, ref.maxAbsOutput)
                                    ? "" : " -- LARGER THAN THE EXPORTER'S 1e-4 TOLERANCE: check the export");
                }
            }
        }
        return 0;
    }

    /** JSON-ready description of a backbone. */
    static Map<String, Object> describe(Backbone bb) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", bb.id());
        m.put("name", bb.name());
        m.put("format", bb.isTorchScript() ? "torchscript-stages" : "declarative");
        Map<String, Object> in = new LinkedHashMap<>();
        in.put("channels", bb.input().channels());
        in.put("height", bb.input().height());
        in.put("width", bb.input().width());
        in.put("mean", bb.input().mean());
        in.put("std", bb.input().std());
        in.put("resize", bb.input().resize().id());
        if (bb.input().resizeTo() > 0) {
            in.put("resize_to", bb.input().resizeTo());
        }
        m.put("input", in);
        m.put("classes", bb.classNames());
        m.put("stages", StageTable.rows(bb));
        m.put("classifier_macs", bb.classifierMacs());
        m.put("total_macs", bb.totalMacs());
        m.put("total_params", bb.totalParams());
        m.put("parameters_sha256", bb.parametersSha256());
        return m;
    }
}
