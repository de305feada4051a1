package org.persephonee.app.cli;

import com.google.gson.annotations.SerializedName;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.backbone.BackboneSource;
import org.persephonee.core.backbone.InputSpec;
import org.persephonee.core.backbone.StageBundleSpec;
import org.persephonee.core.backbone.StageTable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

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
                out.println(Json.of(describe(bb, diff)));
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

    /** {@code inspect --json}: the backbone, its input spec and its stages. */
    record Description(String id, String name, String format, Input input, List<String> classes,
                       List<StageTable.Row> stages, @SerializedName("classifier_macs") long classifierMacs,
                       @SerializedName("total_macs") long totalMacs, @SerializedName("total_params") long totalParams,
                       @SerializedName("parameters_sha256") String parametersSha256,
                       @SerializedName("reference_max_abs_diff") Double referenceMaxAbsDiff) { }

    /** The input the backbone expects and how images are brought to it ({@code resize_to} only when set). */
    record Input(int channels, int height, int width, float[] mean, float[] std, String resize,
                 @SerializedName("resize_to") Integer resizeTo) { }

    /** JSON-ready description of a backbone; {@code referenceDiff} is the reference check's result, or null. */
    static Description describe(Backbone bb, Double referenceDiff) {
        InputSpec in = bb.input();
        return new Description(bb.id(), bb.name(), bb.isTorchScript() ? "torchscript-stages" : "declarative",
                new Input(in.channels(), in.height(), in.width(), in.mean(), in.std(), in.resize().id(),
                        in.resizeTo() > 0 ? in.resizeTo() : null),
                bb.classNames(), StageTable.rows(bb), bb.classifierMacs(), bb.totalMacs(), bb.totalParams(),
                bb.parametersSha256(), referenceDiff);
    }
}
