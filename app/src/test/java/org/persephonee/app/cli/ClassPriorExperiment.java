package org.persephonee.app.cli;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.data.ImageImporter;
import org.persephonee.core.data.LabelSpace;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.eval.Cascade;
import org.persephonee.core.eval.CascadeResult;
import org.persephonee.core.eval.Confidence;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.personalise.EvalPredictions;
import org.persephonee.core.personalise.LabelRegime;
import org.persephonee.core.personalise.PersonalisationConfig;
import org.persephonee.core.personalise.PersonalisationJob;
import org.persephonee.core.pipeline.PersonalisePipeline;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * Per-class accuracy of the chosen operating point and of every head, out of fold on the training images and
 * on the test images (issue 13: where does the validation estimate's optimism come from?).
 * Args: persona (night-owl|tilted-phone), labels (all|none|FRACTION), truth (true: unlabelled images get
 * their true labels, as the bench's 100 % regime).
 */
public final class ClassPriorExperiment {
    public static void main(String[] a) throws Exception {
        Path personas = Path.of("sample-data");
        try (Backbone bb = BackboneIO.load(Path.of("sample-models/fmnist-resnet9"))) {
            PersonalDataset ds = new ImageImporter(new LabelSpace(bb.classNames()), bb.input())
                    .importFolder(personas.resolve(a[0]), null, () -> false).dataset();
            if (Boolean.parseBoolean(a[2])) {
                ds = org.persephonee.core.bench.SampleBench.withTruth(ds, personas, a[0]);
            }
            PersonalisationConfig cfg = PersonalisationConfig.builder().setPlacements(ExitPlacement.auto(bb))
                    .optLabels(LabelRegime.parse(a[1])).optEvalEveryEpoch(false).build();
            try (PersonalisePipeline.Outcome o = PersonalisePipeline.run(bb, ds, cfg, new PersonalisePipeline.Options(1.0,
                    Confidence.MAX_SOFTMAX, false, null, 15), PersonalisationJob.SILENT, () -> false)) {
                CascadeResult ch = o.choice().cascade();
                System.out.println("chosen exits " + Arrays.toString(ch.exits()) + " thresholds "
                        + Arrays.toString(ch.thresholds()) + " budget " + o.selection().budget());
                report("validation (labelled, out of fold)", o.evaluation().validationLabelledCascade(), ch,
                        o.result().labelSpace().names());
                report("test", o.evaluation().cascade(), ch, o.result().labelSpace().names());
            }
        }
    }

    private static void report(String what, Cascade c, CascadeResult ch, java.util.List<String> names) {
        EvalPredictions p = c.predictions();
        System.out.println("== " + what);
        StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "%-12s %5s %7s %7s", "class", "n", "op", "final"));
        for (int j = 0; j < c.exitCount(); j++) {
            head.append(String.format(Locale.ROOT, " %7s", p.stages().get(j)));
        }
        System.out.println(head);
        for (int k = -1; k < names.size(); k++) {
            int kk = k;
            int[] rows = java.util.stream.IntStream.range(0, p.size())
                    .filter(i -> p.truth()[i] >= 0 && (kk < 0 || p.truth()[i] == kk)).toArray();
            if (rows.length == 0) {
                continue;
            }
            Cascade s = new Cascade(p.subset(rows), c.ms(), c.macs(), c.confidence());
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-12s %5d %6.1f%% %6.1f%%",
                    k < 0 ? "all" : names.get(k), rows.length, 100 * s.evaluate(ch.exits(), ch.thresholds()).accuracy(),
                    100 * s.finalAccuracy()));
            for (int j = 0; j < c.exitCount(); j++) {
                line.append(String.format(Locale.ROOT, " %6.1f%%", 100 * s.evaluate(new int[] {j}, 0.0).accuracy()));
            }
            System.out.println(line);
        }
    }
}
