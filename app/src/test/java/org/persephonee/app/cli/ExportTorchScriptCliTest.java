package org.persephonee.app.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

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
        // 60 of the person's images, 8 noise images and a stage bundle's 2 reference images
        int n = bundle.getFileName().toString().contains("-ts") ? 70 : 68;
        assertTrue(r.out().contains(n + " of " + n + " decisions the same") || r.out().contains("near-tie"), r.out());
        for (String f : new String[] {"model.pt", "model.ptl", "deploy.json", "weights.safetensors"}) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f);
        }
        JsonObject d = JsonParser.parseString(Files.readString(out.resolve("deploy.json"))).getAsJsonObject();
        assertTrue(d.getAsJsonObject("parity").get("passed").getAsBoolean());
        assertTrue(d.getAsJsonObject("parity").get("max_abs_diff").getAsDouble() <= 1e-4);
        // the module in DJL's own libtorch (the runtime EarlyExitModel uses): logits within 1e-4 as they are, every
        // decision the same
        JsonObject lt = d.getAsJsonObject("parity").getAsJsonObject("in_djl_libtorch");
        assertTrue(lt.get("max_logit_abs_diff").getAsDouble() <= 1e-4, lt.toString());
        assertEquals(n, lt.get("same_decisions").getAsInt() + lt.get("near_ties").getAsInt(), lt.toString());
        assertTrue(r.out().contains("run by DJL's libtorch"), r.out());
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

    /**
     * The LibTorch C++ example (examples/cpp) builds, and prints the labels and exits tools/run-deployed.py prints for
     * the same images. Skipped, saying why, without cmake, g++ or Debian's libtorch-dev.
     */
    @Test
    void theCppExampleAndThePythonRunnerGiveTheSameAnswers() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(PYTHON), "needs Debian's python3-torch");
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/cmake")) && Files.isExecutable(Path.of("/usr/bin/g++"))
                && Files.isRegularFile(Path.of("/usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake")),
                "the C++ example needs cmake, g++ and libtorch-dev (apt-get install cmake g++ libtorch-dev)");
        Path bundle = bundle("fmnist-resnet9", "night-owl", "block2:grid,block5:grid");
        Path out = tmp.resolve("deploy");
        assertEquals(0, CliTest.cli("export-torchscript", "--bundle", bundle.toString(), "--out", out.toString())
                .code());
        Path build = tmp.resolve("build");
        run(List.of("/usr/bin/cmake", "-S", Path.of("..", "examples", "cpp").toString(), "-B", build.toString()));
        run(List.of("/usr/bin/cmake", "--build", build.toString()));
        List<String> images = new java.util.ArrayList<>();
        try (var s = Files.walk(Path.of("..", "sample-data", "night-owl", "test"))) {
            s.filter(Files::isRegularFile).sorted().limit(24).forEach(f -> images.add(f.toString()));
        }
        List<String> py = new java.util.ArrayList<>(List.of(PYTHON.toString(), Path.of("..", "tools",
                "run-deployed.py").toString(), out.toString()));
        py.addAll(images);
        py.addAll(List.of("--json", "--repeats", "1", "--save-inputs", tmp.resolve("inputs.npy").toString()));
        com.google.gson.JsonArray rows = JsonParser.parseString(run(py)).getAsJsonArray();
        String[] cpp = run(List.of(build.resolve("run-deployed").toString(), out.toString(),
                tmp.resolve("inputs.npy").toString())).strip().split("\n");
        assertEquals(images.size(), cpp.length);
        for (int i = 0; i < cpp.length; i++) {
            String[] f = cpp[i].split("\t");
            JsonObject r = rows.get(i).getAsJsonObject();
            assertEquals(r.get("label").getAsString(), f[1], "image " + i);
            assertEquals(r.get("exit").getAsString(), f[3], "image " + i);
            assertEquals(r.get("confidence").getAsDouble(), Double.parseDouble(f[2]), 1e-5, "image " + i);
        }
    }

    private static String run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(false).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), cmd + "\n" + out + err);
        return out;
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

    /**
     * An export that fails half-way (the exporter dies after writing part of the module), a missing Python and a
     * bundle whose backbone was changed after personalisation: each is refused with a message naming the cause, the
     * earlier export stays as it was, and no temporary folder is left beside it.
     */
    @Test
    void failuresLeaveTheEarlierExportAndNoLeftovers() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(PYTHON), "needs Debian's python3-torch");
        Path bundle = bundle("fmnist-resnet9", "night-owl", "block2:grid");
        Path out = tmp.resolve("deploy");
        assertEquals(0, CliTest.cli("export-torchscript", "--bundle", bundle.toString(), "--out", out.toString(),
                "--images", "0").code());
        byte[] model = Files.readAllBytes(out.resolve("model.pt"));
        String deploy = Files.readString(out.resolve("deploy.json"));

        Path dies = tmp.resolve("dies.sh");
        Files.writeString(dies, "#!/bin/sh\necho partial > \"$3/model.pt\"\necho 'Killed: out of memory'\nexit 137\n");
        assertTrue(dies.toFile().setExecutable(true));
        CliTest.Run crashed = CliTest.cli("export-torchscript", "--bundle", bundle.toString(), "--out", out.toString(),
                "--python", dies.toString());
        assertEquals(1, crashed.code(), crashed.err());
        assertTrue(crashed.err().contains("Killed: out of memory"), crashed.err());

        CliTest.Run noPython = CliTest.cli("export-torchscript", "--bundle", bundle.toString(), "--out",
                out.toString(), "--python", tmp.resolve("no-python").toString());
        assertEquals(1, noPython.code(), noPython.err());
        assertTrue(noPython.err().contains("needs Python with PyTorch") && noPython.err().contains("no-python"),
                noPython.err());

        Path weights = bundle.resolve("backbone").resolve("backbone.params");
        byte[] w = Files.readAllBytes(weights);
        w[w.length / 2] ^= 0x5a;
        Files.write(weights, w);
        CliTest.Run tampered = CliTest.cli("export-torchscript", "--bundle", bundle.toString(), "--out",
                out.toString());
        assertEquals(1, tampered.code(), tampered.err());
        assertTrue(tampered.err().contains("backbone"), tampered.err());

        org.junit.jupiter.api.Assertions.assertArrayEquals(model, Files.readAllBytes(out.resolve("model.pt")));
        assertEquals(deploy, Files.readString(out.resolve("deploy.json")));
        try (var s = Files.list(tmp)) {
            List<String> left = s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".deploy")).toList();
            assertEquals(List.of(), left, "temporary folders left beside the export");
        }
    }
}
