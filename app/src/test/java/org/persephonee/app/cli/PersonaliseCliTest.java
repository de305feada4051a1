package org.persephonee.app.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.backbone.SampleBackbones;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The personalise and evaluate commands on tiny data: the happy path and every bad-input case. */
class PersonaliseCliTest {
    @TempDir
    static Path tmp;
    static Path backbone;

    @BeforeAll
    static void backbone() throws Exception {
        backbone = tmp.resolve("bb");
        org.persephonee.core.engine.Engines.seed(3);
        try (Backbone bb = Backbone.fromSpec(SampleBackbones.resnet("small", 4, new int[] {4, 8, 8}))) {
            bb.initialize();
            BackboneIO.save(bb, backbone);
        }
    }

    private static void png(Path f, int cls, Random r) throws Exception {
        Files.createDirectories(f.getParent());
        BufferedImage bi = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 28; y++) {
            for (int x = 0; x < 28; x++) {
                boolean on = cls == 0 ? (y / 4) % 2 == 0 : (x / 4) % 2 == 0;
                bi.getRaster().setSample(x, y, 0, Math.max(0, Math.min(255, (on ? 200 : 30) + r.nextInt(40) - 20)));
            }
        }
        ImageIO.write(bi, "png", f.toFile());
    }

    /** Two classes (trouser, bag) with labelled, unlabelled and test images. */
    private static Path persona(String name, int labelled, int unlabelled, boolean twoClasses) throws Exception {
        return persona(name, labelled, unlabelled, twoClasses, 6);
    }

    private static Path persona(String name, int labelled, int unlabelled, boolean twoClasses, int testPerClass)
            throws Exception {
        Path p = tmp.resolve(name);
        Random r = new Random(name.hashCode());
        String[] classes = twoClasses ? new String[] {"trouser", "bag"} : new String[] {"trouser"};
        for (int c = 0; c < classes.length; c++) {
            for (int i = 0; i < labelled; i++) {
                png(p.resolve("labelled").resolve(classes[c]).resolve("l" + i + ".png"), c, r);
            }
            for (int i = 0; i < testPerClass; i++) {
                png(p.resolve("test").resolve(classes[c]).resolve("t" + i + ".png"), c, r);
            }
        }
        for (int i = 0; i < unlabelled; i++) {
            png(p.resolve("unlabelled").resolve("u" + i + ".png"), i % classes.length, r);
        }
        return p;
    }

    private static void assertClean(CliTest.Run r) {
        assertFalse(r.err().contains("\tat "), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
    }

    @Test
    void personaliseWritesABundleAndAJsonReportThatEvaluateReads() throws Exception {
        Path p = persona("ok", 8, 10, true);
        Files.writeString(p.resolve("labelled").resolve("bag").resolve("corrupt.png"), "not a png");
        Path out = tmp.resolve("bundle");
        CliTest.Run r = CliTest.cli("personalise", "--backbone", backbone.toString(), "--data", p.toString(),
                "--exits", "block1:conv8,block2:linear", "--epochs", "2", "--out", out.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("corrupt.png"), "skipped file named: " + r.err());
        JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
        for (String k : new String[] {"generic_accuracy", "personalised_final_accuracy", "exits", "operating_point",
            "timing", "bundle"}) {
            assertTrue(o.has(k), "report has " + k);
        }
        assertEquals(2, o.getAsJsonArray("exits").size());
        assertEquals("block1", o.getAsJsonArray("exits").get(0).getAsJsonObject().get("stage").getAsString());
        JsonObject op = o.getAsJsonObject("operating_point");
        for (String k : new String[] {"accuracy", "latency_ms", "macs", "speedup"}) {
            assertTrue(op.has(k), "operating point has " + k);
        }
        assertTrue(o.getAsJsonObject("timing").get("feature_cache_s").getAsDouble() > 0);
        // the report's keys and their order are a contract for scripts (the records keep the old map's order)
        assertEquals(java.util.List.of("backbone", "label_space", "metric", "generic_accuracy",
                "personalised_final_accuracy", "evaluation", "eval_images", "scored_images", "exits", "best_head",
                "operating_point", "timing", "feature_cache", "pseudo_label_accuracy", "latency_source", "latency_ms",
                "provenance", "problems", "bundle"), java.util.List.copyOf(o.keySet()));
        assertEquals(java.util.List.of("stage", "head", "accuracy", "validation_accuracy", "macs", "params", "head_ms",
                "cumulative_ms"), java.util.List.copyOf(o.getAsJsonArray("exits").get(0).getAsJsonObject().keySet()));
        assertTrue(java.util.List.copyOf(op.keySet()).containsAll(java.util.List.of("max_drop_points", "exits",
                "chosen_on", "search", "budget_points", "final_share")), op.keySet().toString());
        assertTrue(Files.isRegularFile(out.resolve("exit-config.json")));
        // labels: whether the final classifier was re-fitted or kept is decided out of fold, and said
        String refit = o.getAsJsonObject("provenance").get("refit_choice").getAsString();
        assertTrue(refit.contains("out of fold on 16 labelled photos"), refit);

        CliTest.Run ev = CliTest.cli("evaluate", "--bundle", out.toString(), "--data", p.toString(), "--json");
        assertEquals(0, ev.code(), ev.err());
        JsonObject e = JsonParser.parseString(ev.out()).getAsJsonObject();
        assertEquals(12, e.get("images").getAsInt());
        assertTrue(e.get("mean_latency_ms").getAsDouble() > 0);
        assertTrue(e.has("exit_share") && e.has("accuracy"));
        // the operating point's accuracy comes with its 95 % interval on the 12 test images (wide: few images)
        com.google.gson.JsonArray ci = op.getAsJsonArray("interval_95");
        double acc = op.get("accuracy").getAsDouble();
        assertTrue(ci.get(0).getAsDouble() <= acc && acc <= ci.get(1).getAsDouble()
                && ci.get(1).getAsDouble() - ci.get(0).getAsDouble() > 0.15, ci + " around " + acc);

        // so does the estimate a person without test images gets, on the labelled training images out of fold
        JsonObject val = op.getAsJsonObject("validation");
        assertTrue(val.get("labelled_images").getAsInt() > 0, val.toString());
        com.google.gson.JsonArray vi = val.getAsJsonArray("interval_95");
        double est = val.get("accuracy").getAsDouble();
        assertTrue(vi.get(0).getAsDouble() <= est && est <= vi.get(1).getAsDouble(), vi + " around " + est);

        // a bundle against itself: the same images, no image right in one only, nothing to tell apart
        CliTest.Run self = CliTest.cli("evaluate", "--bundle", out.toString(), "--data", p.toString(), "--against",
                out.toString(), "--json");
        assertEquals(0, self.code(), self.err());
        JsonObject a = JsonParser.parseString(self.out()).getAsJsonObject().getAsJsonObject("against");
        assertEquals(12, a.get("images").getAsInt());
        assertEquals(e.get("accuracy").getAsDouble(), a.get("accuracy").getAsDouble(), 1e-12);
        assertEquals(0, a.get("right_only_here").getAsInt() + a.get("right_only_there").getAsInt());
        assertEquals(1.0, a.get("p_value").getAsDouble(), 1e-12);
        assertTrue(a.get("verdict").getAsString().contains("within noise"), a.toString());
    }

    @Test
    void reviewListsThePhotosToLabelAsAFillInCsvThatTheNextRunReadsAsChosenLabels() throws Exception {
        Path p = persona("review", 8, 24, true);
        Path csv = p.resolve("labels.csv");
        String[] common = {"personalise", "--backbone", backbone.toString(), "--data", p.toString(), "--exits",
            "block1:conv8,block2:linear", "--epochs", "2"};
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of(common));
        args.addAll(java.util.List.of("--out", tmp.resolve("review-bundle").toString(), "--review", "5",
                "--review-out", csv.toString()));
        CliTest.Run r = CliTest.cli(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        assertClean(r);
        assertTrue(r.out().contains("Label these 5 of 24 unlabelled photos next"), r.out());
        java.util.List<String> lines = Files.readAllLines(csv);
        assertEquals("path,label,guess,confidence,second,second_confidence,third,third_confidence,exit", lines.get(0));
        assertEquals(6, lines.size(), "a header and five photos");
        // the person fills in the label column (here: the class each photo was drawn as)
        StringBuilder filled = new StringBuilder(lines.get(0)).append('\n');
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",", -1);
            assertTrue(f[0].startsWith("unlabelled/"), "only unlabelled photos are asked about: " + line);
            assertEquals("", f[1], "the label column is left blank to fill in");
            int i = Integer.parseInt(f[0].replaceAll("\\D", ""));
            f[1] = i % 2 == 0 ? "trouser" : "bag";
            filled.append(String.join(",", f)).append('\n');
        }
        Files.writeString(csv, filled);

        args = new java.util.ArrayList<>(java.util.List.of(common));
        args.addAll(java.util.List.of("--out", tmp.resolve("review-bundle-2").toString(), "--labels-chosen",
                "--json"));
        CliTest.Run again = CliTest.cli(args.toArray(String[]::new));
        assertEquals(0, again.code(), again.err());
        JsonObject o = JsonParser.parseString(again.out()).getAsJsonObject();
        assertEquals(21, o.getAsJsonObject("provenance").get("labels_given").getAsInt(),
                "16 labelled photos and the 5 reviewed ones");
        assertTrue(o.getAsJsonObject("provenance").getAsJsonObject("config").get("labels_chosen").getAsBoolean(),
                "the run records that its labels were chosen");
        // the reviewed photos are the run's hardest: choices also count every unlabelled photo, by agreement
        assertTrue(o.getAsJsonObject("operating_point").toString().contains("agreement elsewhere"),
                o.getAsJsonObject("operating_point").toString());
    }

    @Test
    void missingFoldersAreNamed() {
        CliTest.Run r = CliTest.cli("personalise", "--backbone", backbone.toString(), "--data",
                tmp.resolve("nope").toString(), "--out", tmp.resolve("o1").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("nope: no such folder"), r.err());
        r = CliTest.cli("evaluate", "--bundle", tmp.resolve("nobundle").toString(), "--data", tmp.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("exit-config.json: not found"), r.err());
        assertClean(r);
    }

    @Test
    void aPersonaWithNoImagesIsRefused() throws Exception {
        Path empty = tmp.resolve("empty");
        Files.createDirectories(empty.resolve("labelled"));
        Files.writeString(empty.resolve("notes.txt"), "nothing here");
        CliTest.Run r = CliTest.cli("personalise", "--backbone", backbone.toString(), "--data", empty.toString(),
                "--out", tmp.resolve("o2").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("has no images"), r.err());
        assertClean(r);
    }

    @Test
    void aSingleClassIsRefused() throws Exception {
        Path one = persona("one", 6, 0, false);
        CliTest.Run r = CliTest.cli("personalise", "--backbone", backbone.toString(), "--data", one.toString(),
                "--exits", "block1:linear", "--out", tmp.resolve("o3").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("at least two classes"), r.err());
        assertClean(r);
    }

    @Test
    void impossibleLabelRegimesAreRefused() throws Exception {
        Path unl = persona("unl", 0, 12, true);
        CliTest.Run r = CliTest.cli("personalise", "--backbone", backbone.toString(), "--data", unl.toString(),
                "--labels", "all", "--exits", "block1:linear", "--out", tmp.resolve("o4").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("none of the") && r.err().contains("labels 'none'"), r.err());
        r = CliTest.cli("personalise", "--backbone", backbone.toString(), "--data", unl.toString(), "--labels", "1.5",
                "--out", tmp.resolve("o5").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("label fraction must be in (0, 1]"), r.err());
        r = CliTest.cli("personalise", "--backbone", backbone.toString(), "--data", unl.toString(), "--exits",
                "block7:conv", "--out", tmp.resolve("o6").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("no stage 'block7'"), r.err());
        assertClean(r);
        r = CliTest.cli("personalise", "--backbone", backbone.toString(), "--data", unl.toString(), "--no-refit",
                "--refit-always", "--out", tmp.resolve("o7").toString());
        assertEquals(2, r.code(), "a usage error");
        assertTrue(r.err().contains("--no-refit and --refit-always contradict each other"), r.err());
        assertClean(r);
    }

    @Test
    void anOutputThatIsAFileIsRefused() throws Exception {
        Path p = persona("ok2", 4, 2, true);
        Path f = tmp.resolve("a-file");
        Files.writeString(f, "x");
        CliTest.Run r = CliTest.cli("personalise", "--backbone", backbone.toString(), "--data", p.toString(),
                "--out", f.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("exists and is not a folder"), r.err());
    }

    /** A tree's files and their bytes, to prove nothing in it changed. */
    private static java.util.Map<String, String> snapshot(Path dir) throws Exception {
        java.util.Map<String, String> m = new java.util.TreeMap<>();
        try (var files = Files.walk(dir)) {
            for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                m.put(dir.relativize(f).toString(), org.persephonee.core.util.Hashes.sha256(f));
            }
        }
        return m;
    }

    @Test
    void aNonFiniteLossDuringHeadTrainingStopsTheRunNamingPhaseAndStepAndWritesNothing() throws Exception {
        Path p = persona("nan", 8, 6, true);
        Path out = tmp.resolve("nan-bundle");
        CliTest.Run first = CliTest.cli("personalise", "--backbone", backbone.toString(), "--data", p.toString(),
                "--exits", "block1:conv8,block2:linear", "--epochs", "2", "--out", out.toString());
        assertEquals(0, first.code(), first.err());
        var before = snapshot(out);
        var backboneBefore = snapshot(backbone);
        for (String phase : new String[] {org.persephonee.core.engine.NumericGuard.HEADS,
            org.persephonee.core.engine.NumericGuard.FINAL_REFIT}) {
            org.persephonee.core.engine.NumericGuard.injectAt(phase, 3);
            CliTest.Run r;
            try {
                r = CliTest.cli("personalise", "--backbone", backbone.toString(), "--data", p.toString(),
                        "--exits", "block1:conv8,block2:linear", "--epochs", "2", "--out", out.toString(), "--json");
            } finally {
                org.persephonee.core.engine.NumericGuard.injectAt(null, -1);
            }
            assertEquals(1, r.code(), r.out() + r.err());
            assertTrue(r.err().contains("non-finite during " + phase + " at step 3"), r.err());
            assertTrue(r.err().contains("nothing was exported"), r.err());
            assertTrue(r.out().isBlank(), "no report for a failed run: " + r.out());
            assertClean(r);
            assertEquals(before, snapshot(out), "the earlier bundle is untouched");
            assertEquals(backboneBefore, snapshot(backbone), "the backbone is untouched");
        }
        try (var left = Files.list(out.getParent())) {
            assertEquals(java.util.List.of(), left.map(f -> f.getFileName().toString())
                    .filter(n -> n.startsWith("nan-bundle") && !n.equals("nan-bundle")).toList(), "no temp folders left");
        }
    }

    @Test
    void withoutAnyLabelTheReportCallsItsFiguresAgreementWithTheTeacher() throws Exception {
        Path p = persona("nolabels", 0, 24, true, 0);
        Path out = tmp.resolve("nolabels-bundle");
        String[] args = {"personalise", "--backbone", backbone.toString(), "--data", p.toString(), "--labels", "none",
            "--pseudo-threshold", "0.05", "--exits", "block1:linear", "--epochs", "2", "--out", out.toString()};
        CliTest.Run r = CliTest.cli(args);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("generic backbone accuracy:      unknown (no labels)"), r.out());
        assertTrue(r.out().contains("agreement with it, not accuracy"), r.out());
        assertFalse(r.out().contains("NaN"), r.out());
        assertFalse(r.out().matches("(?s).*personalised final exit: +100\\.00%.*"), r.out());
        assertTrue(r.out().contains("% agreement at "), r.out());
        String[] json = java.util.Arrays.copyOf(args, args.length + 1);
        json[args.length] = "--json";
        JsonObject o = JsonParser.parseString(CliTest.cli(json).out()).getAsJsonObject();
        assertEquals("teacher_agreement", o.get("metric").getAsString());
        assertTrue(!o.has("generic_accuracy") || o.get("generic_accuracy").isJsonNull(), o.toString());
        assertTrue(o.get("evaluation").getAsString().contains("no labels: agreement with the personalised final exit"),
                o.get("evaluation").getAsString());
        String cfg = Files.readString(out.resolve("exit-config.json"));
        assertTrue(cfg.contains("agreement with the personalised final exit"), cfg);
    }

    @Test
    void withoutTrainingLabelsTheValidationEstimateIsCalledAgreementNotAccuracy() throws Exception {
        // labelled test photos, none among the training photos: the test figures are accuracy, but the out-of-fold
        // estimate can only score agreement with the personalised final exit (it read "100.00% accuracy")
        Path p = persona("notrainlabels", 0, 48, true, 6);
        Path out = tmp.resolve("notrainlabels-bundle");
        CliTest.Run r = CliTest.cli("personalise", "--backbone", backbone.toString(), "--data", p.toString(),
                "--labels", "none", "--pseudo-threshold", "0.05", "--exits", "block1:linear", "--epochs", "2",
                "--out", out.toString(), "--force");
        assertEquals(0, r.code(), r.err());
        String line = r.out().lines().filter(l -> l.contains("validation estimate:")).findFirst().orElseThrow(() ->
                new AssertionError("no validation estimate: " + r.out()));
        assertTrue(line.contains("% agreement with the personalised final exit (no labels to score it: not an accuracy)"),
                line);
        assertFalse(line.contains("% accuracy"), line);
        assertTrue(r.out().contains("operating point: ") && r.out().contains("% accuracy"), "the test figures are accuracy: "
                + r.out());
    }

    @Test
    void declaredClassesAreTheLabelSpaceWithoutLabellingAPhoto() throws Exception {
        // no photo labelled: the person names their two classes; an untrained backbone would guess others
        Path p = persona("declared", 0, 24, true, 6);
        CliTest.Run r = CliTest.cli("personalise", "--backbone", backbone.toString(), "--data", p.toString(),
                "--labels", "none", "--classes", "bag,Trouser", "--exits", "block1:linear", "--epochs", "2",
                "--out", tmp.resolve("declared-bundle").toString(), "--force", "--json");
        assertEquals(0, r.code(), r.err());
        JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
        assertEquals("[\"Trouser\",\"Bag\"]", o.get("label_space").toString(), "the backbone's spelling and order");
        JsonObject prov = o.getAsJsonObject("provenance");
        assertEquals("declared classes", prov.get("label_space_from").getAsString());
        assertEquals("[\"bag\",\"Trouser\"]", prov.getAsJsonObject("config").get("classes").toString(),
                "the run records what was declared");

        CliTest.Run bad = CliTest.cli("personalise", "--backbone", backbone.toString(), "--data", p.toString(),
                "--labels", "none", "--classes", "Trouser,Beanie", "--exits", "block1:linear", "--epochs", "2",
                "--out", tmp.resolve("declared-bad").toString());
        assertTrue(bad.code() != 0, bad.out());
        assertTrue(bad.err().contains("'Beanie' is not one of the backbone's"), bad.err());
        assertClean(bad);
        assertFalse(Files.exists(tmp.resolve("declared-bad").resolve("exit-config.json")), "nothing exported");
    }

    @Test
    void withNoTestImagesEveryPhotoTrainsAndTheFiguresAreTheOutOfFoldEstimate() throws Exception {
        // issue 13: a person's own folder has no test split. Before, a fifth of the photos (labels included) was
        // held out of training to score a figure on a handful of them (night-owl: 95.2 % on 21 photos, 90.3 % on its
        // 400 test photos); now every photo trains and the figures are the out-of-fold ones the choice was made on
        Path p = persona("emptytest", 8, 30, true, 0);
        Files.createDirectories(p.resolve("test"));
        CliTest.Run r = CliTest.cli("personalise", "--backbone", backbone.toString(), "--data", p.toString(),
                "--labels", "0.5", "--exits", "block1:linear", "--epochs", "2", "--out",
                tmp.resolve("emptytest-bundle").toString(), "--json");
        assertEquals(0, r.code(), r.err());
        assertClean(r);
        JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
        JsonObject prov = o.getAsJsonObject("provenance");
        assertEquals(46, prov.get("train_images").getAsInt(), "no photo is held out of training");
        assertTrue(prov.get("eval_out_of_fold").getAsBoolean());
        assertEquals(46, o.get("eval_images").getAsInt(), "every training photo is scored out of fold");
        assertEquals(8, o.get("scored_images").getAsInt(), "on the labels the regime uses, not the hidden ones");
        assertTrue(o.get("evaluation").getAsString().startsWith("8 labelled of 46 training images, out of fold"),
                o.get("evaluation").getAsString());
        assertTrue(o.has("generic_accuracy"), "the backbone as shipped, on the labelled training photos");
        JsonObject op = o.getAsJsonObject("operating_point");
        assertTrue(op.get("chosen_on").getAsString().contains("no test images, so the figures are these same "
                + "predictions"), op.get("chosen_on").getAsString());
        assertEquals(op.get("accuracy").getAsDouble(), op.getAsJsonObject("validation").get("accuracy").getAsDouble(),
                1e-9, "the reported accuracy is the validation estimate");

        CliTest.Run text = CliTest.cli("personalise", "--backbone", backbone.toString(), "--data", p.toString(),
                "--labels", "0.5", "--exits", "block1:linear", "--epochs", "2", "--out",
                tmp.resolve("emptytest-bundle").toString());
        assertEquals(0, text.code(), text.err());
        assertFalse(text.err().contains("NaN"), "no accuracy to print while training, and no NaN either: " + text.err());
        assertTrue(text.err().contains("block1 loss "), text.err());

        // evaluate on the person's own folder scores photos the bundle trained on: said, with the honest figure
        CliTest.Run ev = CliTest.cli("evaluate", "--bundle", tmp.resolve("emptytest-bundle").toString(), "--data",
                p.toString(), "--json");
        assertEquals(0, ev.code(), ev.err());
        assertEquals(16, JsonParser.parseString(ev.out()).getAsJsonObject().get("in_sample_images").getAsInt());
        assertTrue(ev.err().contains("warning: 16 of the 16 labelled images trained this bundle: on them the accuracy "
                + "is in sample, so optimistic (the run's own estimate: "), ev.err());
        assertTrue(ev.err().contains("% on 8 labelled of 46 training images, out of fold)"), ev.err());

        // too few photos to cross-fit (4 per fold): a seeded hold-out scores the run, as before
        Path tiny = persona("tinynotest", 3, 4, true, 0);
        CliTest.Run t = CliTest.cli("personalise", "--backbone", backbone.toString(), "--data", tiny.toString(),
                "--exits", "block1:linear", "--epochs", "1", "--out", tmp.resolve("tiny-bundle").toString(), "--json");
        assertEquals(0, t.code(), t.err());
        String on = JsonParser.parseString(t.out()).getAsJsonObject().get("evaluation").getAsString();
        assertTrue(on.contains("held-out training images"), on);
    }

    @Test
    void evaluateOnClassesTheBundleDoesNotKnowSaysSoInsteadOfScoringZero() throws Exception {
        Path p = persona("known", 6, 4, true);
        Path out = tmp.resolve("known-bundle");
        assertEquals(0, CliTest.cli("personalise", "--backbone", backbone.toString(), "--data", p.toString(),
                "--exits", "block1:linear", "--epochs", "1", "--out", out.toString()).code());
        Path other = tmp.resolve("other-classes");
        Random rnd = new Random(5);
        for (int i = 0; i < 4; i++) {
            png(other.resolve("sneaker").resolve("s" + i + ".png"), 0, rnd);
        }
        CliTest.Run r = CliTest.cli("evaluate", "--bundle", out.toString(), "--data", other.toString());
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("none of the 4 labelled images is of a class this bundle knows"), r.err());
        assertClean(r);
        for (int i = 0; i < 3; i++) {
            png(other.resolve("trouser").resolve("t" + i + ".png"), 0, rnd);
        }
        r = CliTest.cli("evaluate", "--bundle", out.toString(), "--data", other.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("4 of the 7 labelled images are of classes this bundle does not know"), r.err());
        JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
        assertEquals(3, o.get("images").getAsInt());
        assertEquals(4, o.getAsJsonObject("unknown_class_images").get("Sneaker").getAsInt());
    }

    @Test
    void aResultNearChanceIsNotExportedWithoutForce() throws Exception {
        Path p = persona("broken", 8, 4, true);
        // the person's test photos are filed under the other class: whatever was learnt scores near zero
        Path test = p.resolve("test");
        Files.move(test.resolve("trouser"), test.resolve("tmp"));
        Files.move(test.resolve("bag"), test.resolve("trouser"));
        Files.move(test.resolve("tmp"), test.resolve("bag"));
        Path out = tmp.resolve("broken-bundle");
        String[] args = {"personalise", "--backbone", backbone.toString(), "--data", p.toString(), "--exits",
            "block1:linear", "--epochs", "2", "--out", out.toString()};
        CliTest.Run r = CliTest.cli(args);
        assertEquals(1, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("warning: the result is near chance"), r.err());
        assertTrue(r.err().contains("pass --force to export it anyway"), r.err());
        assertFalse(Files.exists(out.resolve("exit-config.json")), "nothing may be written without --force");
        assertClean(r);
        String[] forced = java.util.Arrays.copyOf(args, args.length + 1);
        forced[args.length] = "--force";
        r = CliTest.cli(forced);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("warning: the result is near chance"), r.err());
        assertTrue(Files.isRegularFile(out.resolve("exit-config.json")));
    }
}
