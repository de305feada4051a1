package org.persephonee.core.backbone;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.eval.Confidence;
import org.persephonee.core.exits.ExitPlacement;
import org.persephonee.core.exits.HeadSpec;
import org.persephonee.core.export.BundleWriter;
import org.persephonee.core.personalise.Fixtures;
import org.persephonee.core.personalise.PersonalisationConfig;
import org.persephonee.core.personalise.PersonalisationJob;
import org.persephonee.core.pipeline.PersonalisePipeline;
import org.persephonee.core.runtime.EarlyExitModel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The exporter on real torchvision architectures (random weights, 224x224 RGB): Java reproduces PyTorch's
 * output through the chained TorchScript stages, and a whole personalisation runs on them. Skipped, with
 * the reason, where Debian's python3-torch is not installed.
 */
class TorchvisionExportTest {
    @TempDir
    static Path tmp;
    static Path resnet;
    static Path mobilenet;

    @BeforeAll
    static void export() throws Exception {
        Assumptions.assumeTrue(TorchPython.find() != null, TorchPython.MISSING);
        resnet = tmp.resolve("resnet18");
        mobilenet = tmp.resolve("mobilenet_v2");
        for (Path out : List.of(resnet, mobilenet)) {
            TorchPython.Result r = TorchPython.export(List.of("--model", "torchvision:" + out.getFileName(),
                    "--classes", "imagenet", "--out", out.toString()));
            assertEquals(0, r.code(), r.output());
            assertTrue(r.output().contains("chained stages match the model"), r.output());
        }
    }

    @Test
    void javaReproducesPyTorchOutputsWithin1e4() throws Exception {
        try (Backbone bb = BackboneIO.load(resnet)) {
            assertTrue(bb.isTorchScript());
            assertEquals(List.of("stem", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1",
                    "layer4.0", "layer4.1"), bb.stages().stream().map(Stage::name).toList());
            assertEquals(1000, bb.classNames().size());
            assertEquals("tench", bb.classNames().get(0));
            // torchvision's own figure for resnet18 is 1.82 GMACs
            assertEquals(1.814e9, bb.totalMacs(), 0.01e9);
            assertEquals(11_689_512, bb.totalParams());
            assertTrue(BackboneIO.referenceDifference(bb) < 1e-4, "max |diff| " + BackboneIO.referenceDifference(bb));
        }
        try (Backbone bb = BackboneIO.load(mobilenet)) {
            assertEquals(19, bb.stages().size(), "stem + 17 inverted-residual blocks + the last 1x1 conv");
            assertEquals(List.of(1280L, 7L, 7L), List.of(bb.stages().get(18).outputShape()[0],
                    bb.stages().get(18).outputShape()[1], bb.stages().get(18).outputShape()[2]));
            assertEquals(3_504_872, bb.totalParams());
            assertTrue(BackboneIO.referenceDifference(bb) < 1e-4, "max |diff| " + BackboneIO.referenceDifference(bb));
        }
    }

    @Test
    void mobileNetV3AndEfficientNetAreCutAtBlocksAndReproduced() throws Exception {
        for (String name : List.of("mobilenet_v3_small", "efficientnet_b0")) {
            Path out = tmp.resolve(name);
            TorchPython.Result r = TorchPython.export(List.of("--model", "torchvision:" + name, "--out", out.toString()));
            assertEquals(0, r.code(), r.output());
            try (Backbone bb = BackboneIO.load(out)) {
                // stem + every inverted-residual / MBConv block + the last 1x1 conv
                assertEquals(name.startsWith("mobilenet") ? 13 : 18, bb.stages().size(), name);
                assertTrue(BackboneIO.referenceDifference(bb) < 1e-4, name + ": " + BackboneIO.referenceDifference(bb));
            }
        }
    }

    @Test
    void personalisationExportAndRuntimeWorkOnExportedModels() throws Exception {
        Path persona = Fixtures.persona(tmp.resolve("persona"), new int[] {0, 1, 2}, 6, 12, 6, 11);
        for (Path dir : List.of(resnet, mobilenet)) {
            try (Backbone bb = BackboneIO.load(dir)) {
                PersonalDataset ds = Fixtures.load(bb, persona);
                assertEquals(48, ds.size());
                String early = bb.stages().get(2).name();
                String mid = bb.stages().get(bb.stages().size() / 2).name();
                PersonalisationConfig cfg = PersonalisationConfig.builder()
                        .setPlacements(List.of(new ExitPlacement(early, HeadSpec.parse("conv16")),
                                new ExitPlacement(mid, HeadSpec.parse("linear"))))
                        .optEpochs(8).optBatchSize(16).optLearningRate(0.05f).optSeed(3).build();
                try (PersonalisePipeline.Outcome o = PersonalisePipeline.run(bb, ds, cfg,
                        new PersonalisePipeline.Options(5.0, Confidence.MAX_SOFTMAX, false, null, 3),
                        PersonalisationJob.SILENT, () -> false)) {
                    assertEquals(2, o.result().heads().size());
                    // random weights: mobilenet_v2's deep features vanish (~1e-9), so the early exit must carry it
                    double best = Math.max(o.result().exitAccuracy(0), o.result().finalAccuracy());
                    assertTrue(best > 0.6, dir.getFileName() + ": early exit " + o.result().exitAccuracy(0)
                            + ", final " + o.result().finalAccuracy());
                    assertTrue(o.result().batchNorm().reason().contains("TorchScript"), o.result().batchNorm().reason());
                    Path bundle = BundleWriter.write(tmp.resolve("bundle-" + dir.getFileName()), bb, o.result(),
                            o.evaluation(), o.choice());
                    assertTrue(Files.isRegularFile(bundle.resolve("backbone").resolve(((BackboneSource.TorchScriptStages) bb.source()).bundle().stages.get(0).file)));
                    try (EarlyExitModel m = EarlyExitModel.load(bundle)) {
                        EarlyExitModel.Prediction p = m.classify(ds.test().get(0).path());
                        assertTrue(List.of("cat", "dog", "ankle boot").contains(p.label().toLowerCase(java.util.Locale.ROOT)), p.label());
                    }
                }
            }
        }
    }

    @Test
    void exporterCutsPlainSequentialsAndRefusesWhatItCannotReproduce() throws Exception {
        Path builder = tmp.resolve("nets.py");
        Files.writeString(builder, String.join("\n",
                "import torch, torch.nn as nn",
                "def plain():",
                "    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),",
                "                         nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),",
                "                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 3))",
                "class Odd(nn.Module):",
                "    def __init__(self):",
                "        super().__init__()",
                "        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU())",
                "        self.classifier = nn.Linear(8, 3)",
                "    def forward(self, x):",
                "        return self.classifier(self.features(x).amax((2, 3)))  # max, not the average pool",
                "def odd():",
                "    return Odd()",
                ""));
        Path plain = tmp.resolve("plain");
        TorchPython.Result ok = TorchPython.export(List.of("--builder", builder + ":plain", "--input", "1x16x16",
                "--classes", "a,b,c", "--out", plain.toString()));
        assertEquals(0, ok.code(), ok.output());
        try (Backbone bb = BackboneIO.load(plain)) {
            assertEquals(List.of("s0", "s1", "s2", "s3", "s4"), bb.stages().stream().map(Stage::name).toList());
            assertEquals(List.of("a", "b", "c"), bb.classNames());
            assertTrue(BackboneIO.referenceDifference(bb) < 1e-4);
        }
        TorchPython.Result odd = TorchPython.export(List.of("--builder", builder + ":odd", "--input", "1x16x16",
                "--out", tmp.resolve("odd").toString()));
        assertEquals(2, odd.code(), odd.output());
        assertTrue(odd.output().contains("do not reproduce the model's output"), odd.output());
        assertTrue(!Files.exists(tmp.resolve("odd")), "nothing written");
        TorchPython.Result unknown = TorchPython.export(List.of("--model", "torchvision:no_such_net",
                "--out", tmp.resolve("x").toString()));
        assertEquals(1, unknown.code());
        assertTrue(unknown.output().contains("torchvision has no model 'no_such_net'"), unknown.output());
    }
}
