package org.persephonee.core.export;

import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.backbone.TinyBackbones;
import org.persephonee.core.data.ImageDecoder;
import org.persephonee.core.data.PersonalDataset;
import org.persephonee.core.data.PersonalImage;
import org.persephonee.core.eval.CascadeResult;
import org.persephonee.core.eval.OperatingPoint;
import org.persephonee.core.personalise.BnMode;
import org.persephonee.core.personalise.Fixtures;
import org.persephonee.core.personalise.LabelRegime;
import org.persephonee.core.pipeline.PersonalisePipeline;
import org.persephonee.core.runtime.EarlyExitModel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BundleRoundTripTest {
    @TempDir
    static Path tmp;
    static Backbone bb;
    static PersonalDataset ds;
    static PersonalisePipeline.Outcome outcome;
    static Path bundle;

    @BeforeAll
    static void personalise() throws Exception {
        bb = BackboneIO.load(Fixtures.trainedBackbone());
        ds = Fixtures.load(bb, Fixtures.persona(tmp.resolve("p"), new int[] {0, 1, 2}, 8, 40, 12, 7));
        // a re-fitted final exit, whose weights the bundle carries (the out-of-fold check would keep the tiny
        // backbone's classifier on these photos)
        outcome = PersonalisePipeline.run(bb, ds, Fixtures.quick().optBnMode(BnMode.ADAPT).optRefitChecked(false).build(),
                new PersonalisePipeline.Options(5.0, org.persephonee.core.eval.Confidence.MAX_SOFTMAX, false, null, 5),
                org.persephonee.core.personalise.PersonalisationJob.SILENT, () -> false);
        bundle = BundleWriter.write(tmp.resolve("bundle"), bb, outcome.result(), outcome.evaluation(), outcome.choice());
    }

    @AfterAll
    static void close() {
        outcome.close();
        bb.close();
    }

    private static List<PersonalImage> testImages() {
        return ds.test();
    }

    @Test
    void bundleHasConfigWeightsAndBackboneCopy() throws Exception {
        assertTrue(Files.isRegularFile(bundle.resolve("exit-config.json")));
        assertTrue(Files.isRegularFile(bundle.resolve("backbone/backbone.json")));
        assertTrue(Files.isRegularFile(bundle.resolve("final.params")));
        assertTrue(Files.isRegularFile(bundle.resolve("batchnorm-stats.bin")), "adapted statistics travel with the bundle");
        String json = Files.readString(bundle.resolve("exit-config.json"));
        assertTrue(json.contains("\"schemaVersion\": 1") && json.contains(bb.parametersSha256()), json);
        try (var s = Files.list(tmp)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".bundle")), "no temporary folder left");
        }
    }

    @Test
    void runtimeReproducesTheExportedOperatingPoint() throws Exception {
        CascadeResult expected = outcome.choice().cascade();
        try (EarlyExitModel m = EarlyExitModel.load(bundle)) {
            int correct = 0;
            int[] leave = new int[m.exitStages().size() + 1];
            for (PersonalImage img : testImages()) {
                EarlyExitModel.Prediction p = m.classify(img.path());
                leave[p.exitIndex()]++;
                if (p.label().equals(img.label())) {
                    correct++;
                }
                assertTrue(p.millis() > 0);
            }
            int n = testImages().size();
            assertEquals(expected.accuracy(), correct / (double) n, 1.5 / n);
            for (int k = 0; k < leave.length; k++) {
                assertEquals(expected.share()[k], leave[k] / (double) n, 1.5 / n, "share at exit " + k);
            }
        }
    }

    @Test
    void theLabsExportOfAKeptRunEqualsTheCliExport() throws Exception {
        // the lab keeps a run with every exit (thresholds off) and exports the operating point from that copy later;
        // the CLI writes the operating point at once: the same run and operating point give the same bundle
        Path kept = BundleWriter.writeEveryExit(tmp.resolve("kept"), bb, outcome.result(), outcome.evaluation(),
                outcome.choice());
        int n = outcome.result().heads().size();
        assertTrue(n >= 2, "the fixture trains several exits");
        CascadeResult two = outcome.evaluation().cascade().evaluate(new int[] {0, n - 1}, new double[] {0.7, 0.9});
        CascadeResult fin = outcome.evaluation().cascade().finalOnly();
        for (OperatingPoint.Choice choice : List.of(outcome.choice(), new OperatingPoint.Choice(two, fin.accuracy(),
                fin.meanMs(), fin.meanMacs(), 2.5))) {
            List<String> stages = new java.util.ArrayList<>();
            for (int e : choice.cascade().exits()) {
                stages.add(outcome.result().heads().get(e).stage());
            }
            Path cli = BundleWriter.write(tmp.resolve("cli-" + stages.size()), bb, outcome.result(),
                    outcome.evaluation(), choice);
            Path lab = BundleWriter.subset(kept, tmp.resolve("lab-" + stages.size()), choice, stages);
            String cliJson = Files.readString(cli.resolve(BundleWriter.CONFIG));
            assertEquals(cliJson, Files.readString(lab.resolve(BundleWriter.CONFIG)));
            for (String field : List.of("max_drop_points", "exit_share", "evaluated_on", "latency_source")) {
                assertTrue(cliJson.contains("\"" + field + "\""), field + " in " + cliJson);
            }
            assertEquals(files(cli), files(lab), "the same files with the same contents");
        }
    }

    /** Every file of a bundle (relative path) with its SHA-256. */
    private static java.util.Map<String, String> files(Path dir) throws Exception {
        java.util.Map<String, String> m = new java.util.TreeMap<>();
        try (var s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                m.put(dir.relativize(p).toString(), org.persephonee.core.util.Hashes.sha256(Files.readAllBytes(p)));
            }
        }
        return m;
    }

    @Test
    void thresholdsAboveOneGiveExactlyTheFinalExitsPrediction() throws Exception {
        float[][] fin = outcome.result().predictions().finalExit();
        List<String> names = outcome.result().labelSpace().names();
        try (EarlyExitModel m = EarlyExitModel.load(bundle)) {
            m.setThresholds(1.01);
            List<PersonalImage> imgs = testImages();
            for (int i = 0; i < imgs.size(); i++) {
                EarlyExitModel.Prediction p = m.classify(imgs.get(i).path());
                assertEquals("final", p.exit());
                int a = 0;
                for (int k = 1; k < fin[i].length; k++) {
                    if (fin[i][k] > fin[i][a]) {
                        a = k;
                    }
                }
                assertEquals(names.get(a), p.label(), "image " + i);
            }
        }
    }

    @Test
    void withoutRefitTheFinalExitIsTheBackbonesOwnPrediction() throws Exception {
        // with the shipped statistics the fixture's dim shift leaves the backbone confident about one class only
        // (greyscale images decode as stored since the decoder fix): this contract is checked without the shift
        PersonalDataset plain = Fixtures.load(bb, Fixtures.persona(tmp.resolve("plain"), new int[] {0, 1, 2}, 8, 40,
                12, 7, 0.9));
        try (PersonalisePipeline.Outcome o = PersonalisePipeline.run(bb, plain, Fixtures.quick().optEpochs(1)
                        .optLabels(LabelRegime.NONE).optBnMode(BnMode.KEEP).optFinalEnsemble(false).build(),
                PersonalisePipeline.Options.defaults(), org.persephonee.core.personalise.PersonalisationJob.SILENT,
                () -> false)) {
            Path b2 = BundleWriter.write(tmp.resolve("bundle-norefit"), bb, o.result(), o.evaluation(), o.choice());
            try (EarlyExitModel m = EarlyExitModel.load(b2); NDManager nm = bb.manager().newSubManager()) {
                m.setThresholds(2.0);
                for (PersonalImage img : plain.test()) {
                    float[] x = ImageDecoder.decode(img.path(), bb.input());
                    float[] logits = bb.logits(nm.create(x, bb.batchShape(1))).toFloatArray();
                    int best = -1;
                    for (int k : o.result().labelSpace().backboneIndex()) {
                        if (best < 0 || logits[k] > logits[best]) {
                            best = k;
                        }
                    }
                    assertEquals(bb.classNames().get(best), m.classify(x).label());
                }
            }
        }
    }

    @Test
    void aFinalExitAveragedWithLateExitsRunsAsItWasScored() throws Exception {
        // no labels: the final exit is averaged with the later half of the exits (here block1's); the bundle carries
        // that head and the runtime averages in the same order, so the deployed final exit is the one scored
        try (PersonalisePipeline.Outcome o = PersonalisePipeline.run(bb, ds, Fixtures.quick().optEpochs(2)
                        .optLabels(LabelRegime.NONE).optBnMode(BnMode.ADAPT).build(),
                PersonalisePipeline.Options.defaults(), org.persephonee.core.personalise.PersonalisationJob.SILENT,
                () -> false)) {
            assertEquals(List.of("block1"), o.result().finalEnsembleStages(), o.result().finalEnsemble().reason());
            Path b3 = BundleWriter.write(tmp.resolve("bundle-ensemble"), bb, o.result(), o.evaluation(), o.choice());
            assertTrue(Files.isRegularFile(b3.resolve("final-ensemble-block1.params")));
            // what a later run carries on from is the final exit's own prediction: it averages on its own
            com.google.gson.JsonArray kept0 = com.google.gson.JsonParser.parseString(Files.readString(b3.resolve(
                    org.persephonee.core.personalise.ResumeState.FILE))).getAsJsonObject().getAsJsonArray("validation")
                    .get(0).getAsJsonObject().getAsJsonArray("final");
            float[] own = o.result().validationFinalAlone()[0];
            for (int k = 0; k < own.length; k++) {
                assertEquals(own[k], kept0.get(k).getAsFloat(), 1e-6);
            }
            // the lab's copy of a kept run exports the ensemble head too
            Path kept = BundleWriter.writeEveryExit(tmp.resolve("kept-ensemble"), bb, o.result(), o.evaluation(),
                    o.choice());
            // the lab replaces its kept run after every run: the ensemble's files are a bundle's own, not foreign
            kept = BundleWriter.writeEveryExit(kept, bb, o.result(), o.evaluation(), o.choice());
            List<String> stages = new java.util.ArrayList<>();
            for (int e : o.choice().cascade().exits()) {
                stages.add(o.result().heads().get(e).stage());
            }
            Path lab = BundleWriter.subset(kept, tmp.resolve("lab-ensemble"), o.choice(), stages);
            float[][] scored = o.result().predictions().finalExit();
            List<PersonalImage> imgs = ds.test();
            for (Path b : List.of(b3, lab)) {
                try (EarlyExitModel m = EarlyExitModel.load(b)) {
                    assertEquals(1, m.ensembleHeads().size());
                    m.setThresholds(1.01);
                    int differsFromTheHeadAlone = 0;
                    for (int i = 0; i < imgs.size(); i++) {
                        float[] x = ImageDecoder.decode(imgs.get(i).path(), bb.input());
                        float[][] p = m.allProbabilities(x);
                        float[] fin = p[m.exitStages().size()];
                        for (int k = 0; k < fin.length; k++) {
                            assertEquals(scored[i][k], fin[k], 1e-4, "image " + i + " class " + k);
                        }
                        float[] alone = softmax(m.allLogits(x)[m.exitStages().size()]);
                        for (int k = 0; k < fin.length; k++) {
                            if (Math.abs(alone[k] - fin[k]) > 1e-3) {
                                differsFromTheHeadAlone++;
                                break;
                            }
                        }
                        assertEquals("final", m.classify(x).exit());
                    }
                    assertTrue(differsFromTheHeadAlone > 0, "the average is not the final head's own output");
                }
            }
        }
    }

    private static float[] softmax(float[] z) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : z) {
            max = Math.max(max, v);
        }
        double sum = 0;
        float[] p = new float[z.length];
        for (int k = 0; k < z.length; k++) {
            sum += Math.exp(z[k] - max);
        }
        for (int k = 0; k < z.length; k++) {
            p[k] = (float) (Math.exp(z[k] - max) / sum);
        }
        return p;
    }

    @Test
    void refusesValuesThatWouldSilentlyChangeTheModel() throws Exception {
        com.google.gson.Gson gson = new com.google.gson.GsonBuilder().serializeSpecialFloatingPointValues().create();
        String[][] cases = {
            {"nan", "threshold", "NaN", "threshold NaN"},
            {"inf", "threshold", "Infinity", "threshold Infinity"},
            {"neg", "threshold", "-1", "threshold -1.0"},
            {"kind", "kind", "\"weird\"", "final exit kind 'weird' is unknown"},
            {"dup", "labels", null, "is listed twice"},
            {"index", "labelBackboneIndex", null, "points at backbone class 99"},
            {"text", "threshold", "\"abc\"", "has threshold \"abc\""},
            {"up", "weights", "\"../../outside.params\"", "'../../outside.params' is outside the bundle folder"},
            {"abs", "weights", "\"/etc/hostname\"", "'/etc/hostname' is outside the bundle folder"},
            {"bbpath", "backbonePath", "\"../bundle/backbone\"", "backbone path '../bundle/backbone' is outside"},
            {"link", "link", null, "leads outside the bundle folder through a symbolic link"},
            {"nullmean", "mean", "[null]", "an array of numbers holds null"},
        };
        for (String[] c : cases) {
            Path copy = copyBundle("bad-" + c[0]);
            Path cfg = copy.resolve("exit-config.json");
            com.google.gson.JsonObject o = com.google.gson.JsonParser.parseString(Files.readString(cfg)).getAsJsonObject();
            switch (c[1]) {
                case "threshold" -> o.getAsJsonArray("exits").get(0).getAsJsonObject().add("threshold",
                        com.google.gson.JsonParser.parseString(c[2]));
                case "kind" -> o.getAsJsonObject("finalExit").add("kind", com.google.gson.JsonParser.parseString(c[2]));
                case "labels" -> o.getAsJsonArray("labels").set(1, o.getAsJsonArray("labels").get(0));
                case "weights" -> o.getAsJsonObject("finalExit").add("weights",
                        com.google.gson.JsonParser.parseString(c[2]));
                case "mean" -> o.getAsJsonObject("input").add("mean", com.google.gson.JsonParser.parseString(c[2]));
                case "backbonePath" -> o.getAsJsonObject("backbone").add("path",
                        com.google.gson.JsonParser.parseString(c[2]));
                case "link" -> {
                    Path w = copy.resolve(o.getAsJsonObject("finalExit").get("weights").getAsString());
                    Files.move(w, tmp.resolve("moved-out.params"));
                    Files.createSymbolicLink(w, tmp.resolve("moved-out.params"));
                }
                default -> o.getAsJsonArray("labelBackboneIndex").set(0, new com.google.gson.JsonPrimitive(99));
            }
            Files.writeString(cfg, gson.toJson(o));
            BundleException e = assertThrows(BundleException.class, () -> EarlyExitModel.load(copy).close(), c[0]);
            assertTrue(e.getMessage().contains(c[3]), c[0] + ": " + e.getMessage());
            assertTrue(e.getMessage().contains("exit-config.json"), e.getMessage());
        }
    }

    @Test
    void refusesAnotherSchemaVersion() throws Exception {
        Path copy = copyBundle("v2");
        Path cfg = copy.resolve("exit-config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"schemaVersion\": 1", "\"schemaVersion\": 2"));
        BundleException e = assertThrows(BundleException.class, () -> EarlyExitModel.load(copy));
        assertTrue(e.getMessage().contains("schema version 2 is not supported"), e.getMessage());
    }

    @Test
    void refusesABackboneWhoseWeightsDoNotMatch() throws Exception {
        Path other = tmp.resolve("other-backbone");
        try (Backbone o = TinyBackbones.random("tiny", 99)) {
            BackboneIO.save(o, other);
        }
        BundleException e = assertThrows(BundleException.class, () -> EarlyExitModel.load(bundle, other));
        assertTrue(e.getMessage().contains("backbone weights do not match the bundle"), e.getMessage());
    }

    @Test
    void refusesTamperedHeadWeights() throws Exception {
        Path copy = copyBundle("tampered");
        byte[] w = Files.readAllBytes(copy.resolve("final.params"));
        w[w.length - 1] ^= 0x55;
        Files.write(copy.resolve("final.params"), w);
        BundleException e = assertThrows(BundleException.class, () -> EarlyExitModel.load(copy));
        assertTrue(e.getMessage().contains("final.params: SHA-256 does not match"), e.getMessage());
    }

    @Test
    void exportRefusesToOverwriteAFolderThatIsNotABundle() throws Exception {
        Path precious = tmp.resolve("precious");
        Files.createDirectories(precious);
        Files.writeString(precious.resolve("thesis.tex"), "years of work");
        java.io.IOException e = assertThrows(java.io.IOException.class, () -> BundleWriter.write(precious, bb,
                outcome.result(), outcome.evaluation(), outcome.choice()));
        assertTrue(e.getMessage().contains("refusing to replace"), e.getMessage());
        assertEquals("years of work", Files.readString(precious.resolve("thesis.tex")));
        // an earlier bundle is replaced in one step
        Path again = BundleWriter.write(bundle, bb, outcome.result(), outcome.evaluation(), outcome.choice());
        assertTrue(Files.isRegularFile(again.resolve("exit-config.json")));
    }

    private static Path copyBundle(String name) throws Exception {
        Path dst = tmp.resolve(name);
        org.persephonee.core.util.FileTrees.copy(bundle, dst);
        return dst;
    }
}
