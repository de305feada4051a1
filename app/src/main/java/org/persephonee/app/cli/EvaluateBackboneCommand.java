package org.persephonee.app.cli;

import com.google.gson.annotations.SerializedName;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.pretrain.Pretrainer;
import org.persephonee.core.data.FashionMnist;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** {@code evaluate-backbone}: accuracy of a backbone on the 10,000 Fashion-MNIST test images. */
@Command(name = "evaluate-backbone", customSynopsis = "persephonee evaluate-backbone --backbone DIR --data DIR [--json]",
        description = "accuracy of a backbone on the Fashion-MNIST test split")
public final class EvaluateBackboneCommand extends CliCommand {
    @Option(names = "--backbone", required = true, paramLabel = "DIR", description = "backbone folder")
    Path backbone;

    @Option(names = "--data", required = true, paramLabel = "DIR",
            description = "folder with the Fashion-MNIST IDX files (Debian: " + FashionMnist.DEBIAN_DIR_NAME + ")")
    Path data;

    @Option(names = "--json", description = "print {accuracy, images, ...} as JSON")
    boolean json;

    /** {@code evaluate-backbone --json}. */
    record Report(String backbone, double accuracy, int images, int correct,
                  @SerializedName("per_class_accuracy") Map<String, Double> perClassAccuracy, double seconds) { }

    @Override
    protected int run(PrintStream out, PrintStream err) throws Exception {
        FashionMnist test = FashionMnist.load(data, FashionMnist.Split.TEST);
        try (Backbone bb = BackboneIO.load(backbone)) {
            if (bb.input().channels() != 1 || bb.input().height() != 28 || bb.input().width() != 28
                    || bb.classNames().size() != 10) {
                throw new CliException(bb.directory() + " is not a Fashion-MNIST backbone (needs 1x28x28 input and "
                        + "10 classes, has " + bb.input() + " and " + bb.classNames().size() + " classes)");
            }
            long t0 = System.nanoTime();
            int[] pred = Pretrainer.predict(bb, test.images(), 256);
            double secs = (System.nanoTime() - t0) / 1e9;
            int correct = 0;
            int[] perClassCorrect = new int[10];
            int[] perClass = new int[10];
            for (int i = 0; i < pred.length; i++) {
                perClass[test.labels()[i]]++;
                if (pred[i] == test.labels()[i]) {
                    correct++;
                    perClassCorrect[test.labels()[i]]++;
                }
            }
            double acc = correct / (double) pred.length;
            Map<String, Double> perClassAcc = new LinkedHashMap<>();
            for (int c = 0; c < 10; c++) {
                perClassAcc.put(bb.classNames().get(c), perClass[c] == 0 ? 0.0 : perClassCorrect[c] / (double) perClass[c]);
            }
            if (json) {
                out.println(Json.of(new Report(bb.id(), acc, pred.length, correct, perClassAcc, secs)));
            } else {
                out.printf("%s: accuracy %.2f%% (%d/%d) on the Fashion-MNIST test split, %.1f s%n", bb.id(), acc * 100,
                        correct, pred.length, secs);
                perClassAcc.forEach((k, v) -> out.printf("  %-12s %.2f%%%n", k, v * 100));
            }
        }
        return 0;
    }
}
