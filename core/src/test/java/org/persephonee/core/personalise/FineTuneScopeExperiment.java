package org.persephonee.core.personalise;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.util.PairList;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.bench.SampleBench;
import org.persephonee.core.data.ImageImporter;
import org.persephonee.core.data.LabelSpace;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.exits.ExitPlacement;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * Where full fine-tuning's advantage over the frozen backbone comes from (issue 13, "close the gap"): {@link
 * FullFineTune}'s training (SGD 0.01, momentum 0.9, cosine, 10 epochs, a linear head on the last stage, the exit
 * run's targets) with only some stages' weights trainable, or with a small input adapter (a per-pixel gain map and a
 * depthwise 3x3 residual kernel) trained through the frozen stages. Every BatchNorm layer runs in training mode, as
 * in full fine-tuning, so frozen stages re-estimate their statistics. Prints test accuracy after each epoch and the
 * training seconds. Not a unit test.
 *
 * <p>Args: backbone-dir personas-dir persona seed scope... where a scope is {@code full}, {@code head},
 * {@code first:K}, {@code last:K}, {@code adapter} or {@code adapter+last:K}.
 */
public final class FineTuneScopeExperiment {
    private FineTuneScopeExperiment() { }

    public static void main(String[] args) throws Exception {
        Path bbDir = Path.of(args[0]);
        Path personas = Path.of(args[1]);
        String persona = args[2];
        long seed = Long.parseLong(args[3]);
        int epochs = 10;
        try (Backbone bb = BackboneIO.load(bbDir)) {
            PersonalDataset given = new ImageImporter(new LabelSpace(bb.classNames()), bb.input())
                    .importFolder(personas.resolve(persona), null, () -> false).dataset();
            PersonalDataset ds = SampleBench.withTruth(given, personas, persona);
            PersonalisationConfig cfg = PersonalisationConfig.builder().setPlacements(ExitPlacement.auto(bb))
                    .optLabels(LabelRegime.ALL).optEpochs(epochs).optSeed(seed).optEvalEveryEpoch(false).build();
            try (PersonalisationResult r = new PersonalisationJob(bb, ds, cfg).run(PersonalisationJob.SILENT,
                    () -> false)) {
                System.out.printf(Locale.ROOT, "%s seed %d: final exit %.1f %%, exits %s, training %.2f s%n",
                        persona, seed, 100 * r.finalAccuracy(), exitList(r), r.timing().training());
                for (int a = 4; a < args.length; a++) {
                    run(bbDir, r, args[a], epochs);
                }
            }
        }
    }

    private static String exitList(PersonalisationResult r) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < r.heads().size(); i++) {
            sb.append(String.format(Locale.ROOT, "%.1f ", 100 * r.exitAccuracy(i)));
        }
        return sb.toString().trim();
    }

    private static void run(Path bbDir, PersonalisationResult exitRun, String scope, int epochs) throws Exception {
        int n;
        int c;
        int h;
        int w;
        try (Backbone bb = BackboneIO.load(bbDir)) {
            n = bb.stages().size();
            c = bb.input().channels();
            h = (int) bb.batchShape(1).get(2);
            w = (int) bb.batchShape(1).get(3);
        }
        boolean adapter = scope.startsWith("adapter");
        String rest = adapter ? (scope.contains("+") ? scope.substring(scope.indexOf('+') + 1) : "head") : scope;
        boolean[] trainable = new boolean[n];
        if (rest.equals("full")) {
            Arrays.fill(trainable, true);
        } else if (rest.startsWith("first:")) {
            Arrays.fill(trainable, 0, Integer.parseInt(rest.substring(6)), true);
        } else if (rest.startsWith("last:")) {
            Arrays.fill(trainable, n - Integer.parseInt(rest.substring(5)), n, true);
        } else if (!rest.equals("head")) {
            throw new IllegalArgumentException("scope " + scope);
        }
        FullFineTune.Result r = FullFineTune.run(bbDir, exitRun, epochs, 0.01f, () -> false, i -> trainable[i],
                adapter ? new InputAdapter(c, h, w) : null);
        StringBuilder accs = new StringBuilder();
        for (double a : r.epochAccuracy()) {
            accs.append(String.format(Locale.ROOT, " %.1f", 100 * a));
        }
        System.out.printf(Locale.ROOT, "  %-16s %.1f %% after %d epochs, %.2f s (per epoch%s)%n", scope,
                100 * r.accuracy(), epochs, r.trainingSeconds(), accs);
    }

    /** x * gain(pixel) + depthwise 3x3 kernel (x) + bias: the identity at the start. */
    static final class InputAdapter extends AbstractBlock {
        private final Parameter gain;
        private final Parameter kernel;
        private final Parameter bias;
        private final int channels;

        InputAdapter(int channels, int h, int w) {
            this.channels = channels;
            gain = addParameter(Parameter.builder().setName("gain").setType(Parameter.Type.WEIGHT)
                    .optShape(new Shape(1, channels, h, w)).optInitializer(new ConstantInitializer(1f)).build());
            kernel = addParameter(Parameter.builder().setName("kernel").setType(Parameter.Type.WEIGHT)
                    .optShape(new Shape(channels, 1, 3, 3)).optInitializer(new ConstantInitializer(0f)).build());
            bias = addParameter(Parameter.builder().setName("bias").setType(Parameter.Type.BIAS)
                    .optShape(new Shape(channels)).optInitializer(new ConstantInitializer(0f)).build());
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
                                         PairList<String, Object> params) {
            NDArray x = inputs.singletonOrThrow();
            Device d = x.getDevice();
            NDArray g = ps.getValue(gain, d, training);
            NDArray k = ps.getValue(kernel, d, training);
            NDArray b = ps.getValue(bias, d, training);
            NDArray conv = Conv2d.conv2d(x, k, b, new Shape(1, 1), new Shape(1, 1), new Shape(1, 1), channels)
                    .singletonOrThrow();
            return new NDList(x.mul(g).add(conv));
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return inputShapes;
        }
    }
}
