package org.persephonee.app.cli;

import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.backbone.BackboneSpec;
import org.persephonee.core.backbone.ModelCard;
import org.persephonee.core.pretrain.PretrainConfig;
import org.persephonee.core.pretrain.Pretrainer;
import org.persephonee.core.backbone.SampleBackbones;
import org.persephonee.core.data.FashionMnist;
import org.persephonee.core.util.AtomicFiles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/** {@code pretrain}: trains the sample backbone on Fashion-MNIST and writes it with its model card. */
@Command(name = "pretrain", customSynopsis = "persephonee pretrain --data DIR --out DIR [--seed N] [--epochs N]",
        description = "train the sample backbone on Fashion-MNIST (about 30 min on 2 cores)")
public final class PretrainCommand extends CliCommand {
    /** Name of the committed sample backbone. */
    public static final String SAMPLE_ID = "fmnist-resnet9";

    @Option(names = "--data", required = true, paramLabel = "DIR",
            description = "folder with the Fashion-MNIST IDX files (Debian: " + FashionMnist.DEBIAN_DIR_NAME + ")")
    Path data;

    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "backbone folder to write (backbone.json, backbone.params, README.md)")
    Path outDir;

    @Option(names = "--seed", paramLabel = "N", description = "random seed (default ${DEFAULT-VALUE})")
    long seed = 7;

    @Option(names = "--epochs", paramLabel = "N",
            description = "passes over the 60,000 training images (default: the recipe's, 20)")
    Integer epochsOption;

    @Option(names = "--photometric",
            description = "also photometric jitter (contrast, brightness, blur, noise), as the MobileNetV2 sample's"
                    + " recipe; the committed ResNet-9 sample is trained without it")
    boolean photometric;

    /** The sample backbone's architecture: a 3x3 stem and eight residual blocks, nine exit points. */
    public static BackboneSpec sampleSpec() {
        BackboneSpec spec = SampleBackbones.resnet(SAMPLE_ID, 16, new int[] {16, 16, 32, 32, 32, 64, 64, 64});
        spec.name = "Fashion-MNIST ResNet-9 (sample)";
        spec.description = "ResNet-style CNN for 28x28 grayscale clothing images; stem + 8 basic residual blocks";
        return spec;
    }

    @Override
    protected int run(PrintStream out, PrintStream err) throws Exception {
        PretrainConfig cfg = PretrainConfig.defaults(seed);
        int epochs = epochsOption == null ? cfg.epochs() : epochsOption;
        if (epochs < 1) {
            throw new CliException("--epochs must be at least 1");
        }
        cfg = cfg.withEpochs(epochs).withPhotometric(photometric);
        FashionMnist train = FashionMnist.load(data, FashionMnist.Split.TRAIN);
        FashionMnist test = FashionMnist.load(data, FashionMnist.Split.TEST);
        err.printf("pretrain: %d training and %d test images from %s; %d epochs, seed %d%n", train.size(),
                test.size(), data, cfg.epochs(), seed);
        BackboneSpec spec = sampleSpec();
        try (Backbone bb = Backbone.fromSpec(spec)) {
            Pretrainer.Result r = new Pretrainer(cfg).train(bb, train, test, new Pretrainer.Listener() {
                @Override
                public void onStep(int epoch, int step, int steps, float loss, float acc, float lr, double el,
                                   double eta) {
                    err.printf("epoch %d/%d  step %d/%d  loss %.4f  train acc %.4f  lr %.4f  elapsed %s  eta %s%n",
                            epoch, cfgEpochs(), step, steps, loss, acc, lr, Durations.format(el), Durations.format(eta));
                }

                @Override
                public void onEpoch(int epoch, float loss, float trainAcc, float testAcc, double el) {
                    err.printf("epoch %d done: train loss %.4f, train acc %.4f, test acc %.4f (%s)%n", epoch, loss,
                            trainAcc, testAcc, Durations.format(el));
                }

                private int cfgEpochs() { return epochs; }
            }, () -> false);
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("dataset", "Fashion-MNIST (Zalando Research, MIT licence), Debian package dataset-fashion-mnist");
            t.put("trainImages", train.size());
            t.put("testImages", test.size());
            t.put("testAccuracy", r.testAccuracy());
            t.put("trainAccuracy", r.trainAccuracy());
            t.put("seconds", Math.round(r.seconds()));
            t.put("seed", seed);
            t.put("epochs", cfg.epochs());
            t.put("batchSize", cfg.batchSize());
            t.put("learningRate", cfg.learningRate());
            t.put("schedule", "linear warm-up 1 epoch, cosine to 0");
            t.put("optimizer", "SGD momentum " + cfg.momentum() + ", weight decay " + cfg.weightDecay());
            t.put("augmentation", (cfg.augment() ? "random shift up to 2 px, horizontal flip" : "none")
                    + (cfg.photometric() ? "; photometric jitter: contrast x0.4-1.2, brightness +-0.175, 3x3 blur on"
                    + " 30 %, Gaussian noise up to 0.08" : ""));
            t.put("engine", "DJL 0.36.0, PyTorch 2.7.1 CPU");
            t.put("cores", Runtime.getRuntime().availableProcessors());
            t.put("date", Instant.now().toString());
            t.put("command", "./persephonee pretrain --data " + data + " --out " + outDir + " --seed " + seed
                    + (epochs != PretrainConfig.defaults(seed).epochs() ? " --epochs " + epochs : "")
                    + (photometric ? " --photometric" : ""));
            spec.training = t;
            BackboneIO.save(bb, outDir);
            AtomicFiles.writeString(outDir.resolve("README.md"), ModelCard.markdown(bb));
            err.printf("pretrain: test accuracy %.4f on %d images, %s; wrote %s%n", r.testAccuracy(), test.size(),
                    Durations.format(r.seconds()), outDir);
        }
        return 0;
    }
}
