package org.persephonee.app.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * export-torchscript on both sample backbones: the module is built in PyTorch, compared with the Java runtime on the
 * person's test images and published only when every exit agrees; a folder of someone else's files is never replaced.
 */
class ExportTorchScriptCliTest {
    static final Path PYTHON = Path.of("/usr/bin/python3");

    @TempDir
    Path tmp;

    private Path bundle(String backbone, String persona, String exits) {
        Path out = tmp.resolve("bundle-" + backbone);
        CliTest.Run r = CliTest.cli("personalise", "--backbone", Path.of("..", "sample-models", backbone).toString(),
                "--data", Path.of("..", "sample-data", persona).toString(), "--exits", exits, "--labels", "0.1",
                "--epochs", "3", "--seed", "3", "--out", out.toString(), "--force");
        assertEquals(0, r.code(), r.err());
        return out;
    }

    private void exportsWithParity(Path bundle, String persona) throws Exception {
        Path out = tmp.resolve("deploy-" + bundle.getFileName());
        CliTest.Run r = CliTest.cli("export-torchscript", "--bundle", bundle.toString(), "--out", out.toString(),
                "--data", Path.of("..", "sample-data", persona).toString(), "--images", "60");
        assertEquals(0, r.code(), r.err() + r.out());
        assertTrue(r.out().contains("68 of 68 decisions the same") || r.out().contains("near-tie"), r.out());
        for (String f : new String[] {"model.pt", "model.ptl", "deploy.json", "weights.safetensors"}) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f);
        }
        JsonObject d = JsonParser.parseString(Files.readString(out.resolve("deploy.json"))).getAsJsonObject();
        assertTrue(d.getAsJsonObject("parity").get("passed").getAsBoolean());
        assertTrue(d.getAsJsonObject("parity").get("max_abs_diff").getAsDouble() <= 1e-4);
        // a second export replaces the first
        assertEquals(0, CliTest.cli("export-torchscript", "--bundle", bundle.toString(), "--out", out.toString())
                .code());
    }

    @Test
    void theDeclarativeSampleExportsWithParity() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(PYTHON), "needs Debian's python3-torch");
        exportsWithParity(bundle("fmnist-resnet9", "night-owl", "block2:grid,block5:grid,block7:linear"), "night-owl");
    }

    @Test
    void theTorchScriptStageBundleExportsWithParity() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(PYTHON), "needs Debian's python3-torch");
        exportsWithParity(bundle("fmnist-mobilenetv2-ts", "tilted-phone", "features.3:grid,features.7:grid"),
                "tilted-phone");
    }

    @Test
    void aFolderOfOtherFilesIsRefusedAndKept() throws Exception {
        Path out = tmp.resolve("photos");
        Files.createDirectories(out);
        Files.writeString(out.resolve("holiday.jpg"), "not ours");
        CliTest.Run r = CliTest.cli("export-torchscript", "--bundle", tmp.toString(), "--out", out.toString());
        assertEquals(1, r.code(), r.err());
        assertTrue(Files.isRegularFile(out.resolve("holiday.jpg")), "nothing deleted");
        Path b = tmp.resolve("b");
        Files.createDirectories(b);
        CliTest.Run noBundle = CliTest.cli("export-torchscript", "--bundle", b.toString(), "--out",
                tmp.resolve("x").toString());
        assertEquals(1, noBundle.code());
        assertTrue(noBundle.err().contains("exit-config.json") || noBundle.err().contains("bundle"), noBundle.err());
    }
}
