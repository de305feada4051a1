package org.persephonee.core.backbone;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BackboneFormatTest {
    @TempDir
    Path tmp;

    private static float[] logits(Backbone bb) {
        float[] x = new float[2 * 144];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) Math.sin(i * 0.37);
        }
        try (NDManager m = bb.manager().newSubManager()) {
            NDArray in = m.create(x, bb.batchShape(2));
            return bb.logits(in).toFloatArray();
        }
    }

    private Path saved(String name, long seed) throws Exception {
        Path dir = tmp.resolve(name);
        try (Backbone bb = TinyBackbones.random(name, seed)) {
            BackboneIO.save(bb, dir);
        }
        return dir;
    }

    @Test
    void roundTripKeepsArchitectureWeightsAndOutputs() throws Exception {
        Path dir = tmp.resolve("bb");
        float[] before;
        try (Backbone bb = TinyBackbones.random("tiny", 3)) {
            before = logits(bb);
            BackboneIO.save(bb, dir);
        }
        assertTrue(Files.isRegularFile(dir.resolve("backbone.json")));
        assertTrue(Files.isRegularFile(dir.resolve("backbone.params")));
        try (Backbone loaded = BackboneIO.load(dir)) {
            assertEquals(List.of("stem", "block1", "block2"), loaded.stages().stream().map(Stage::name).toList());
            assertEquals(List.of("Cat", "Dog", "Ankle boot"), loaded.classNames());
            assertEquals(new InputSpec(1, 12, 12, new float[] {0.5f}, new float[] {0.25f}), loaded.input());
            assertArrayEquals(new long[] {8, 6, 6}, loaded.stage("block2").outputShape());
            assertArrayEquals(before, logits(loaded), 1e-6f);
            assertEquals(64, loaded.parametersSha256().length());
        }
    }

    @Test
    void forwardAllGivesEveryStageThenTheLogits() throws Exception {
        try (Backbone bb = BackboneIO.load(saved("all", 1)); NDManager m = bb.manager().newSubManager()) {
            List<NDArray> outs = bb.forwardAll(m.ones(bb.batchShape(2)));
            assertEquals(4, outs.size());
            assertArrayEquals(new long[] {2, 4, 12, 12}, outs.get(0).getShape().getShape());
            assertArrayEquals(new long[] {2, 3}, outs.get(3).getShape().getShape());
            assertArrayEquals(bb.logits(m.ones(bb.batchShape(2))).toFloatArray(), outs.get(3).toFloatArray(), 1e-6f);
        }
    }

    @Test
    void missingFolderOrJsonIsNamed() throws Exception {
        BackboneFormatException e = assertThrows(BackboneFormatException.class,
                () -> BackboneIO.load(tmp.resolve("nowhere")));
        assertTrue(e.getMessage().contains("nowhere"), e.getMessage());
        Files.createDirectories(tmp.resolve("empty"));
        e = assertThrows(BackboneFormatException.class, () -> BackboneIO.load(tmp.resolve("empty")));
        assertEquals(tmp.resolve("empty").resolve("backbone.json"), e.file());
        assertTrue(e.getMessage().contains("not found"), e.getMessage());
    }

    @Test
    void brokenJsonIsNamed() throws Exception {
        Path dir = saved("broken", 1);
        Files.writeString(dir.resolve("backbone.json"), "{\"format\": \"persephonee-backbone\", \"stages\": [");
        BackboneFormatException e = assertThrows(BackboneFormatException.class, () -> BackboneIO.load(dir));
        assertEquals(dir.resolve("backbone.json"), e.file());
        assertTrue(e.getMessage().contains("not valid backbone JSON"), e.getMessage());
    }

    @Test
    void unsupportedVersionAndInconsistentArchitectureAreRefused() throws Exception {
        Path dir = saved("v", 1);
        String json = Files.readString(dir.resolve("backbone.json"));
        Files.writeString(dir.resolve("backbone.json"), json.replace("\"formatVersion\": 1", "\"formatVersion\": 9"));
        BackboneFormatException e = assertThrows(BackboneFormatException.class, () -> BackboneIO.load(dir));
        assertTrue(e.getMessage().contains("formatVersion"), e.getMessage());

        Files.writeString(dir.resolve("backbone.json"), json.replace("\"out\": 3", "\"out\": 5"));
        e = assertThrows(BackboneFormatException.class, () -> BackboneIO.load(dir));
        assertTrue(e.getMessage().contains("classifier outputs [5] but there are 3 classes"), e.getMessage());
    }

    @Test
    void absurdInputSizesAreRefusedAtOnceBlamingTheManifest() throws Exception {
        Path dir = saved("huge", 1);
        com.google.gson.JsonObject m = com.google.gson.JsonParser.parseString(
                Files.readString(dir.resolve("backbone.json"))).getAsJsonObject();
        for (int side : new int[] {100000, 4000}) {
            m.getAsJsonObject("input").addProperty("height", side);
            m.getAsJsonObject("input").addProperty("width", side);
            Files.writeString(dir.resolve("backbone.json"), m.toString());
            BackboneFormatException e = assertThrows(BackboneFormatException.class, () -> BackboneIO.load(dir));
            assertTrue(e.getMessage().startsWith(dir.resolve("backbone.json").toString()), e.getMessage());
            assertTrue(e.getMessage().contains(side + "x" + side + " is larger than this lab handles"), e.getMessage());
            e = assertThrows(BackboneFormatException.class, () -> BackboneIO.readInfo(dir));
            assertTrue(e.getMessage().contains("larger than this lab handles"), e.getMessage());
        }
    }

    @Test
    void missingParameterFileIsNamed() throws Exception {
        Path dir = saved("noparams", 1);
        Files.delete(dir.resolve("backbone.params"));
        BackboneFormatException e = assertThrows(BackboneFormatException.class, () -> BackboneIO.load(dir));
        assertEquals(dir.resolve("backbone.params"), e.file());
        assertTrue(e.getMessage().contains("not found"), e.getMessage());
    }

    @Test
    void truncatedParameterFileIsNamed() throws Exception {
        Path dir = saved("trunc", 1);
        byte[] p = Files.readAllBytes(dir.resolve("backbone.params"));
        Files.write(dir.resolve("backbone.params"), Arrays.copyOf(p, p.length / 2));
        BackboneFormatException e = assertThrows(BackboneFormatException.class, () -> BackboneIO.load(dir));
        assertEquals(dir.resolve("backbone.params"), e.file());
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());

        // without the recorded size and hash, the parameter reader itself notices the missing bytes
        String json = Files.readString(dir.resolve("backbone.json"));
        Files.writeString(dir.resolve("backbone.json"), json.replaceAll("\"sha256\": \"[0-9a-f]+\",", "")
                .replaceAll("\"bytes\": \\d+", "\"bytes\": 0"));
        e = assertThrows(BackboneFormatException.class, () -> BackboneIO.load(dir));
        assertTrue(e.getMessage().contains("backbone.params: truncated or corrupt")
                || e.getMessage().contains("does not match the architecture"), e.getMessage());
    }

    @Test
    void parametersOfAnotherBackboneAreRefused() throws Exception {
        Path a = saved("a", 1);
        Path b = saved("b", 2);
        Files.copy(b.resolve("backbone.params"), a.resolve("backbone.params"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        BackboneFormatException e = assertThrows(BackboneFormatException.class, () -> BackboneIO.load(a));
        assertTrue(e.getMessage().contains("SHA-256 does not match"), e.getMessage());
    }

    @Test
    void parametersOfADifferentArchitectureAreRefusedEvenWithoutAHash() throws Exception {
        Path dir = saved("arch", 1);
        String json = Files.readString(dir.resolve("backbone.json"));
        // widen block2: same layer count, different shapes
        String wider = json.replaceAll("\"sha256\": \"[0-9a-f]+\",", "").replaceAll("\"bytes\": \\d+", "\"bytes\": 0");
        BackboneSpec spec = BackboneIO.gson().fromJson(wider, BackboneSpec.class);
        spec.stages.set(0, new StageSpec("stem", List.of(LayerSpec.conv(6, 3, 1, 1), LayerSpec.bn(), LayerSpec.relu())));
        Files.writeString(dir.resolve("backbone.json"), BackboneIO.gson().toJson(spec));
        BackboneFormatException e = assertThrows(BackboneFormatException.class, () -> BackboneIO.load(dir));
        assertEquals(dir.resolve("backbone.params"), e.file());
        assertTrue(e.getMessage().contains("does not match the architecture"), e.getMessage());
    }

    @Test
    void savingReplacesFilesWithoutLeavingTemporaries() throws Exception {
        Path dir = saved("twice", 1);
        try (Backbone bb = TinyBackbones.random("twice", 5)) {
            BackboneIO.save(bb, dir);
        }
        try (var s = Files.list(dir)) {
            assertFalse(s.anyMatch(p -> p.getFileName().toString().endsWith(".tmp")));
        }
        try (Backbone bb = BackboneIO.load(dir)) {
            assertEquals("twice", bb.id());
        }
    }
}
