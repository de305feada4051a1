package org.persephonee.core.personalise;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.util.PairList;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.backbone.Stage;
import org.persephonee.core.bench.SampleBench;
import org.persephonee.core.data.ImageImporter;
import org.persephonee.core.data.LabelSpace;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.exits.ExitHead;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;
import org.persephonee.core.exits.HeadType;
import org.persephonee.core.engine.Engines;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Where full fine-tuning's advantage over the frozen backbone comes from (issue 13, "close the gap"): the same
 * training as {@link FullFineTune} (SGD 0.01, momentum 0.9, cosine, 10 epochs, a linear head on the last stage,
 * the exit run's targets) with only some stages' weights trainable, or with a small input adapter (a per-pixel
 * gain map and a depthwise 3x3 residual kernel) trained through the frozen stages. Every BatchNorm layer runs in
 * training mode, as in full fine-tuning, so frozen stages re-estimate their statistics. Prints test accuracy per
 * epoch and the seconds per epoch. Not a unit test.
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
        PreparedData data = exitRun.data();
        Targets targets = exitRun.targets();
        PersonalLabelSpace space = exitRun.labelSpace();
        PersonalisationConfig cfg = exitRun.config();
        Engines.seed(cfg.seed());
        try (Backbone bb = BackboneIO.load(bbDir, true)) {
            if (exitRun.batchNorm().adapted()) {
                BnStats.restore(bb, exitRun.batchNorm().stats());
            }
            List<Stage> stages = bb.stages();
            int n = stages.size();
            boolean[] trainable = new boolean[n];
            boolean adapter = scope.startsWith("adapter");
            String rest = adapter ? (scope.contains("+") ? scope.substring(scope.indexOf('+') + 1) : "head") : scope;
            if (rest.equals("full")) {
                Arrays.fill(trainable, true);
            } else if (rest.startsWith("first:")) {
                int k = Integer.parseInt(rest.substring(6));
                for (int i = 0; i < k; i++) {
                    trainable[i] = true;
                }
            } else if (rest.startsWith("last:")) {
                int k = Integer.parseInt(rest.substring(5));
                for (int i = n - k; i < n; i++) {
                    trainable[i] = true;
                }
            } else if (!rest.equals("head")) {
                throw new IllegalArgumentException("scope " + scope);
            }
            Stage last = stages.get(n - 1);
            try (ExitHead head = new ExitHead(new ExitPlacement(last.name(), HeadSpec.of(HeadType.LINEAR)),
                    last.outputShape(), space.size());
                 Model model = Model.newInstance("scope", Device.cpu(), "PyTorch")) {
                head.initialize();
                SequentialBlock net = new SequentialBlock();
                int c = bb.input().channels();
                int h = (int) bb.batchShape(1).get(2);
                int w = (int) bb.batchShape(1).get(3);
                if (adapter) {
                    net.add(new InputAdapter(c, h, w));
                }
                for (int i = 0; i < n; i++) {
                    Block b = stages.get(i).block();
                    net.add(b);
                }
                net.add(head.block());
                model.setBlock(net);
                int batch = cfg.batchSize();
                int[] order = targets.usedIndices();
                int steps = (order.length + batch - 1) / batch;
                float lr = 0.01f;
                DefaultTrainingConfig tc = new DefaultTrainingConfig(Loss.l2Loss())
                        .optOptimizer(Optimizer.sgd().setLearningRateTracker(Tracker.cosine().setBaseValue(lr)
                                        .optFinalValue(lr * 0.01f).setMaxUpdates(Math.max(1, steps * epochs)).build())
                                .optMomentum(0.9f).optWeightDecays(5e-4f).build());
                int size = bb.input().size();
                Random rnd = new Random(cfg.seed());
                double secs = 0;
                StringBuilder accs = new StringBuilder();
                try (Trainer t = model.newTrainer(tc)) {
                    t.initialize(bb.batchShape(batch));
                    for (int i = 0; i < n; i++) {
                        if (!trainable[i]) {
                            stages.get(i).block().freezeParameters(true);
                        }
                    }
                    double acc = 0;
                    for (int e = 0; e < epochs; e++) {
                        long t0 = System.nanoTime();
                        org.persephonee.core.util.Vectors.shuffle(order, rnd);
                        for (int s = 0; s < steps; s++) {
                            int from = s * batch;
                            int b = Math.min(batch, order.length - from);
                            int[] idx = Arrays.copyOfRange(order, from, from + b);
                            float[] x = new float[b * size];
                            for (int i = 0; i < b; i++) {
                                System.arraycopy(data.trainX.get(idx[i]), 0, x, i * size, size);
                            }
                            float[] hard = new float[b * space.size()];
                            float[] hardW = new float[b];
                            float[] soft = new float[b * space.size()];
                            float[] softW = new float[b];
                            targets.fill(idx, hard, hardW, soft, softW);
                            try (NDManager m = t.getManager().newSubManager()) {
                                try (GradientCollector gc = t.newGradientCollector()) {
                                    NDArray z = t.forward(new NDList(m.create(x, bb.batchShape(b)))).singletonOrThrow();
                                    NDArray loss = TeacherLoss.of(m, z, hard, hardW, soft, softW, b, space.size(),
                                            cfg.temperature());
                                    gc.backward(loss);
                                }
                                t.step();
                            }
                        }
                        secs += (System.nanoTime() - t0) / 1e9;
                        acc = exitRun.predictions().accuracy(evaluate(net, model, bb, data.evalX, space.size()));
                        accs.append(String.format(Locale.ROOT, " %.1f", 100 * acc));
                    }
                    System.out.printf(Locale.ROOT, "  %-16s %.1f %% after %d epochs, %.2f s (per epoch%s)%n", scope,
                            100 * acc, epochs, secs, accs);
                }
            }
        }
    }

    private static float[][] evaluate(SequentialBlock net, Model model, Backbone bb, List<float[]> ev, int classes) {
        int size = bb.input().size();
        float[][] probs = new float[ev.size()][];
        for (int s = 0; s < ev.size(); s += 128) {
            int b = Math.min(128, ev.size() - s);
            float[] x = new float[b * size];
            for (int i = 0; i < b; i++) {
                System.arraycopy(ev.get(s + i), 0, x, i * size, size);
            }
            try (NDManager m = model.getNDManager().newSubManager()) {
                float[] p = net.forward(new ParameterStore(m, false), new NDList(m.create(x, bb.batchShape(b))),
                        false).singletonOrThrow().softmax(1).toFloatArray();
                for (int i = 0; i < b; i++) {
                    probs[s + i] = Arrays.copyOfRange(p, i * classes, (i + 1) * classes);
                }
            }
        }
        return probs;
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
