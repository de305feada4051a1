package org.persephonee.core.personalise;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.initializer.XavierInitializer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.backbone.TinyBackbones;
import org.persephonee.core.data.ImageImporter;
import org.persephonee.core.data.LabelSpace;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.engine.Engines;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * Tiny synthetic world for fast engine tests: 12x12 grayscale patterns of three classes (horizontal
 * stripes = Cat, vertical stripes = Dog, a centred blob = Ankle boot), a tiny backbone trained on clean
 * patterns once per JVM, and personas with a dimmed, noisy capture shift.
 */
public final class Fixtures {
    private static Path trainedDir;

    private Fixtures() { }

    /** One 12x12 image of a class, pixel values in [0,1]. */
    static float[] pattern(int cls, Random r, double gain, double noise) {
        float[] img = new float[144];
        int phase = r.nextInt(4);
        for (int y = 0; y < 12; y++) {
            for (int x = 0; x < 12; x++) {
                double v = switch (cls) {
                    case 0 -> ((y + phase) / 2) % 2 == 0 ? 1 : 0;
                    case 1 -> ((x + phase) / 2) % 2 == 0 ? 1 : 0;
                    default -> Math.exp(-((x - 5.5) * (x - 5.5) + (y - 5.5) * (y - 5.5)) / (6.0 + phase));
                };
                img[y * 12 + x] = (float) Math.max(0, Math.min(1, gain * v + noise * r.nextGaussian()));
            }
        }
        return img;
    }

    /** The tiny backbone trained on clean patterns, saved once per JVM; load it with BackboneIO. */
    public static synchronized Path trainedBackbone() throws IOException {
        if (trainedDir != null) {
            return trainedDir;
        }
        Path dir = Files.createTempDirectory("tiny-backbone");
        Engines.seed(11);
        try (Backbone bb = Backbone.fromSpec(TinyBackbones.spec("tiny"))) {
            DefaultTrainingConfig tc = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                    .optInitializer(new XavierInitializer(), Parameter.Type.WEIGHT)
                    .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(0.01f)).build());
            Random r = new Random(3);
            try (Trainer t = bb.model().newTrainer(tc)) {
                t.initialize(bb.batchShape(32));
                for (int step = 0; step < 120; step++) {
                    float[] x = new float[32 * 144];
                    float[] y = new float[32];
                    for (int i = 0; i < 32; i++) {
                        int c = r.nextInt(3);
                        float[] p = pattern(c, r, 0.8 + 0.2 * r.nextDouble(), 0.1);
                        for (int k = 0; k < 144; k++) {
                            x[i * 144 + k] = (p[k] - 0.5f) / 0.25f;
                        }
                        y[i] = c;
                    }
                    try (NDManager m = t.getManager().newSubManager()) {
                        NDArray xa = m.create(x, bb.batchShape(32));
                        try (GradientCollector gc = t.newGradientCollector()) {
                            NDArray l = t.getLoss().evaluate(new NDList(m.create(y)), t.forward(new NDList(xa)));
                            gc.backward(l);
                            // a wrong engine (NaN kernels) fails here, loudly, not later with a BatchNorm message
                            org.persephonee.core.engine.NumericGuard.loss("the tiny test backbone's training",
                                    step + 1, l.getFloat(), null);
                        }
                        t.step();
                    }
                }
            }
            BackboneIO.save(bb, dir);
        }
        trainedDir = dir;
        return dir;
    }

    private static void png(float[] img, Path file) throws IOException {
        Files.createDirectories(file.getParent());
        BufferedImage bi = new BufferedImage(12, 12, BufferedImage.TYPE_BYTE_GRAY);
        for (int i = 0; i < 144; i++) {
            bi.getRaster().setSample(i % 12, i / 12, 0, Math.round(img[i] * 255));
        }
        ImageIO.write(bi, "png", file.toFile());
    }

    /**
     * Writes a persona: labelled/<class>/, unlabelled/, test/<class>/ with a dimmed, noisy shift.
     *
     * @param classes class indices (0 Cat, 1 Dog, 2 Ankle boot)
     */
    public static Path persona(Path dir, int[] classes, int labelledPerClass, int unlabelled, int testPerClass,
                               long seed) throws IOException {
        return persona(dir, classes, labelledPerClass, unlabelled, testPerClass, seed, 0.5);
    }

    /** The same with another contrast (0.5 is the dim shift; the backbone trained on 0.8-1.0). */
    public static Path persona(Path dir, int[] classes, int labelledPerClass, int unlabelled, int testPerClass,
                               long seed, double contrast) throws IOException {
        return persona(dir, classes, labelledPerClass, unlabelled, testPerClass, seed, contrast, 0.12);
    }

    /** The same with another pixel noise (standard deviation; 0.12 elsewhere). */
    public static Path persona(Path dir, int[] classes, int labelledPerClass, int unlabelled, int testPerClass,
                               long seed, double contrast, double noise) throws IOException {
        String[] names = {"cat", "dog", "ankle_boot"};
        Random r = new Random(seed);
        for (int c : classes) {
            for (int i = 0; i < labelledPerClass; i++) {
                png(pattern(c, r, contrast, noise), dir.resolve("labelled").resolve(names[c]).resolve("l" + i + ".png"));
            }
            for (int i = 0; i < testPerClass; i++) {
                png(pattern(c, r, contrast, noise), dir.resolve("test").resolve(names[c]).resolve("t" + i + ".png"));
            }
        }
        for (int i = 0; i < unlabelled; i++) {
            png(pattern(classes[r.nextInt(classes.length)], r, contrast, noise), dir.resolve("unlabelled").resolve("u" + i + ".png"));
        }
        return dir;
    }

    /** Imports a persona folder against a backbone's classes. */
    public static PersonalDataset load(Backbone bb, Path dir) throws IOException {
        return new ImageImporter(new LabelSpace(bb.classNames()), bb.input()).importFolder(dir, null, () -> false)
                .dataset();
    }

    /** A quick config: linear heads on stem and block1, few epochs. */
    public static PersonalisationConfig.Builder quick() {
        return PersonalisationConfig.builder()
                .setPlacements(List.of(new org.persephonee.core.exits.ExitPlacement("stem",
                                org.persephonee.core.exits.HeadSpec.parse("conv8")),
                        new org.persephonee.core.exits.ExitPlacement("block1",
                                org.persephonee.core.exits.HeadSpec.parse("linear"))))
                .optEpochs(10).optBatchSize(16).optLearningRate(0.05f).optSeed(5);
    }
}
