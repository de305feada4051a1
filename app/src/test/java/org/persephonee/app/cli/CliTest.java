package org.persephonee.app.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.backbone.SampleBackbones;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CliTest {
    @TempDir
    Path tmp;

    record Run(int code, String out, String err) { }

    static Run cli(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int code = new Cli().run(args, new PrintStream(o, true, StandardCharsets.UTF_8),
                new PrintStream(e, true, StandardCharsets.UTF_8));
        return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    private Path smallBackbone() throws Exception {
        Path dir = tmp.resolve("small");
        try (Backbone bb = Backbone.fromSpec(SampleBackbones.resnet("small", 4, new int[] {4, 8, 8}))) {
            bb.initialize();
            BackboneIO.save(bb, dir);
        }
        return dir;
    }

    private static void assertNoStackTrace(Run r) {
        assertFalse(r.err().contains("\tat "), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
    }

    @Test
    void inspectPrintsTheStageTableAsTextAndJson() throws Exception {
        Path dir = smallBackbone();
        Run text = cli("inspect", "--backbone", dir.toString());
        assertEquals(0, text.code(), text.err());
        assertTrue(text.out().contains("block3"), text.out());
        Run json = cli("inspect", "--backbone", dir.toString(), "--json");
        assertEquals(0, json.code(), json.err());
        JsonObject o = JsonParser.parseString(json.out()).getAsJsonObject();
        assertEquals(4, o.getAsJsonArray("stages").size());
        JsonObject stem = o.getAsJsonArray("stages").get(0).getAsJsonObject();
        assertEquals("stem", stem.get("name").getAsString());
        assertEquals(28 * 28 * 4 * 9, stem.get("macs").getAsLong());
        assertEquals(stem.get("macs").getAsLong(), stem.get("cumulative_macs").getAsLong());
    }

    @Test
    void badBackboneFolderGivesOneClearLineAndNonZeroExit() throws Exception {
        Run r = cli("inspect", "--backbone", tmp.resolve("nowhere").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("error: " + tmp.resolve("nowhere")), r.err());
        assertNoStackTrace(r);

        Path dir = smallBackbone();
        Files.write(dir.resolve("backbone.params"), new byte[] {1, 2, 3});
        r = cli("inspect", "--backbone", dir.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("backbone.params: truncated"), r.err());
        assertNoStackTrace(r);
    }

    @Test
    void usageErrorsExitWithTwo() {
        Run r = cli("inspect");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("missing required option --backbone"), r.err());
        r = cli("inspect", "--backbone", "x", "--colour", "red");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown option --colour"), r.err());
        r = cli("frobnicate");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown command 'frobnicate'"), r.err());
        r = cli("pretrain", "--data", tmp.toString(), "--out", tmp.resolve("o").toString(), "--epochs", "many");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--epochs must be an integer"), r.err());
        // an unknown option is named before a missing required one, with the near misses
        r = cli("personalise", "--max-dorp", "2");
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("error: unknown option --max-dorp (did you mean --max-drop?)"), r.err());
        r = cli("personalise", "--backbone", "a", "--data", "b", "--out", "c", "--bn", "sometimes");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--bn must be one of keep, adapt, auto, got 'sometimes'"), r.err());
        r = cli("personalise", "--backbone", "a", "--data", "b", "--out", "c", "--confidence", "margin");
        assertTrue(r.err().contains("--confidence must be one of max-softmax, entropy, got 'margin'"), r.err());
        r = cli("inspect", "--backbone");
        assertTrue(r.err().contains("option --backbone needs a value"), r.err());
        assertNoStackTrace(r);
    }

    @Test
    void everyCommandHasHelpWithItsOptionsAndDefaults() {
        for (String c : new String[] {"inspect", "evaluate-backbone", "pretrain", "make-personas", "import", "smoke",
                "doctor", "personalise", "evaluate", "bench", "export-torchscript"}) {
            // picocli warns on the process's stderr when a description does not format (a bare '%')
            java.io.PrintStream sysErr = System.err;
            java.io.ByteArrayOutputStream warnings = new java.io.ByteArrayOutputStream();
            Run r;
            try {
                System.setErr(new java.io.PrintStream(warnings, true, java.nio.charset.StandardCharsets.UTF_8));
                r = cli(c, "--help");
            } finally {
                System.setErr(sysErr);
            }
            assertEquals("", warnings.toString(java.nio.charset.StandardCharsets.UTF_8), c);
            assertEquals(0, r.code(), c + ": " + r.err());
            assertTrue(r.out().startsWith("usage: persephonee " + c), r.out());
            assertTrue(r.out().contains("--help"), r.out());
            assertEquals("", r.err(), c + ": the help text must format cleanly");
        }
        Run r = cli("personalise", "--help");
        // the help's defaults are the engine's (the teacher's is written out as text, so it is checked here)
        assertTrue(r.out().contains("(default " + org.persephonee.core.personalise.PersonalisationConfig
                .DEFAULT_TEACHER.name().toLowerCase(java.util.Locale.ROOT) + ")"), r.out());
        assertTrue(r.out().contains("(default " + org.persephonee.core.personalise.PersonalisationConfig
                .DEFAULT_EPOCHS + "; " + org.persephonee.core.personalise.PersonalisationConfig.DEFAULT_RESUME_EPOCHS
                + " with --resume)"), r.out());
        assertTrue(r.out().contains("--retrain-last=N"), r.out());
        // the command list shows each command's one-line description
        r = cli("--help");
        assertTrue(r.out().contains("personalise") && r.out().contains("train early exits on a person's images"),
                r.out());
    }

    @Test
    void missingFashionMnistIsExplained() throws Exception {
        Run r = cli("evaluate-backbone", "--backbone", smallBackbone().toString(), "--data", tmp.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("t10k-images-idx3-ubyte.gz: IDX file not found"), r.err());
        assertNoStackTrace(r);
    }

    @Test
    void importReportsSkippedFilesByName() throws Exception {
        Path cls = tmp.resolve("me").resolve("ankle_boot");
        Files.createDirectories(cls);
        ImageIO.write(new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY), "png", cls.resolve("ok.png").toFile());
        Files.writeString(cls.resolve("broken.png"), "definitely not a png");
        Run r = cli("import", "--data", tmp.resolve("me").toString(), "--backbone", smallBackbone().toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
        assertEquals(1, o.get("labelled").getAsInt());
        assertEquals(1, o.getAsJsonObject("train_counts").get("Ankle boot").getAsInt());
        assertTrue(o.getAsJsonArray("skipped").get(0).getAsJsonObject().get("path").getAsString().endsWith("broken.png"));
    }

    @Test
    void smokeRunsTheEngine() {
        Run r = cli("smoke");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("works offline"), r.out());
    }
}
