package org.persephonee.core.backbone;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.util.Hashes;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The committed TorchScript stage bundle (made by tools/export-backbone.py) and every way a stage bundle can
 * be broken: each gives a clear message naming the stage, never a native crash.
 */
class StageBundleTest {
    static final Path DIR = Path.of("..", "sample-models", "fmnist-mobilenetv2-ts");

    @TempDir
    Path tmp;

    @Test
    void committedBundleLoadsAndReproducesPyTorch() throws Exception {
        long bytes;
        try (Stream<Path> s = Files.walk(DIR)) {
            bytes = s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
        assertTrue(bytes <= 10_000_000, "committed bundle is " + bytes + " bytes");
        try (Backbone bb = BackboneIO.load(DIR)) {
            assertTrue(bb.isTorchScript());
            assertEquals(10, bb.stages().size(), "stem + 8 inverted-residual blocks + the last 1x1 conv");
            assertEquals("stem", bb.stages().get(0).name());
            assertEquals(List.of("T-shirt/top", "Trouser"), bb.classNames().subList(0, 2));
            assertEquals(InputSpec.Resize.PAD, bb.input().resize());
            assertEquals(1, bb.input().channels());
            assertTrue(BackboneIO.referenceDifference(bb) < 1e-4, "max |diff| " + BackboneIO.referenceDifference(bb));
            assertTrue(bb.totalMacs() > 1_000_000 && bb.totalParams() > 100_000);
            assertTrue(!bb.supportsBatchNormAdaptation());
        }
    }

    private Path copy() throws IOException {
        return copy("bundle");
    }

    private Path copy(String name) throws IOException {
        Path dst = tmp.resolve(name);
        org.persephonee.core.util.FileTrees.copy(DIR, dst);
        return dst;
    }

    private static JsonObject manifest(Path dir) throws IOException {
        return JsonParser.parseString(Files.readString(dir.resolve("backbone.json"))).getAsJsonObject();
    }

    private static void write(Path dir, JsonObject m) throws IOException {
        Files.writeString(dir.resolve("backbone.json"), m.toString());
    }

    private static JsonObject stage(JsonObject m, int i) {
        return m.getAsJsonArray("stages").get(i).getAsJsonObject();
    }

    /** Makes the manifest entry describe the file as it now is (so only the intended check can fail). */
    private static void recordFile(JsonObject entry, Path f) throws IOException {
        entry.addProperty("sha256", Hashes.sha256(f));
        entry.addProperty("bytes", Files.size(f));
    }

    private static String failure(Path dir) {
        return assertThrows(BackboneFormatException.class, () -> BackboneIO.load(dir).close()).getMessage();
    }

    @Test
    void missingStageFileIsNamed() throws Exception {
        Path dir = copy();
        JsonObject m = manifest(dir);
        Files.delete(dir.resolve(stage(m, 3).get("file").getAsString()));
        String msg = failure(dir);
        assertTrue(msg.contains("stage '" + stage(m, 3).get("name").getAsString() + "'") && msg.contains("not found"), msg);
    }

    @Test
    void changedStageFileIsRefused() throws Exception {
        Path dir = copy();
        Path f = dir.resolve(stage(manifest(dir), 2).get("file").getAsString());
        byte[] b = Files.readAllBytes(f);
        b[b.length / 2] ^= 0x5a;
        Files.write(f, b);
        String msg = failure(dir);
        assertTrue(msg.contains("SHA-256 does not match") && msg.contains("stage '"), msg);
    }

    @Test
    void manifestThatLiesAboutAShapeIsRefused() throws Exception {
        Path dir = copy();
        JsonObject m = manifest(dir);
        JsonArray shape = stage(m, 4).getAsJsonArray("outputShape");
        shape.set(0, new com.google.gson.JsonPrimitive(shape.get(0).getAsLong() + 8));
        write(dir, m);
        String msg = failure(dir);
        assertTrue(msg.contains("stage '" + stage(m, 4).get("name").getAsString() + "' outputs")
                && msg.contains("backbone.json says"), msg);
    }

    @Test
    void stagesThatDoNotChainAreRefused() throws Exception {
        Path dir = copy();
        JsonObject m = manifest(dir);
        // swap two stages with different input channels: each file is intact, the chain is not
        JsonArray stages = m.getAsJsonArray("stages");
        JsonObject a = stages.get(1).getAsJsonObject();
        JsonObject b = stages.get(2).getAsJsonObject();
        stages.set(1, b);
        stages.set(2, a);
        write(dir, m);
        String msg = failure(dir);
        assertTrue(msg.contains("stage '" + b.get("name").getAsString() + "' does not accept the output of")
                && msg.contains("do not chain"), msg);
    }

    @Test
    void unsupportedTorchScriptVersionIsRefused() throws Exception {
        Path dir = copy();
        JsonObject m = manifest(dir);
        JsonObject s = stage(m, 5);
        Path f = dir.resolve(s.get("file").getAsString());
        Path rewritten = tmp.resolve("v99.pt");
        try (ZipFile zip = new ZipFile(f.toFile()); OutputStream os = Files.newOutputStream(rewritten);
             ZipOutputStream out = new ZipOutputStream(os)) {
            Enumeration<? extends ZipEntry> en = zip.entries();
            while (en.hasMoreElements()) {
                ZipEntry e = en.nextElement();
                out.putNextEntry(new ZipEntry(e.getName()));
                if (e.getName().endsWith("/version")) {
                    out.write("99\n".getBytes(StandardCharsets.UTF_8));
                } else {
                    try (InputStream in = zip.getInputStream(e)) {
                        in.transferTo(out);
                    }
                }
                out.closeEntry();
            }
        }
        Files.move(rewritten, f, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        recordFile(s, f);
        write(dir, m);
        String msg = failure(dir);
        assertTrue(msg.contains("stage '" + s.get("name").getAsString() + "'")
                && msg.contains("TorchScript file version 99 is not supported"), msg);
    }

    @Test
    void aFileThatIsNotTorchScriptIsRefused() throws Exception {
        Path dir = copy();
        JsonObject m = manifest(dir);
        JsonObject c = m.getAsJsonObject("classifier");
        Path f = dir.resolve(c.get("file").getAsString());
        Files.writeString(f, "def forward(x): return x\n");
        recordFile(c, f);
        write(dir, m);
        String msg = failure(dir);
        assertTrue(msg.contains("classifier '") && msg.contains("not a TorchScript file"), msg);
    }

    @Test
    void manifestProblemsAreNamed() throws Exception {
        Path dir = copy();
        JsonObject m = manifest(dir);
        m.remove("classifier");
        write(dir, m);
        assertTrue(failure(dir).contains("'classifier' is missing"), failure(dir));
        Path d2 = copy("b2");
        m = manifest(d2);
        m.getAsJsonArray("classes").remove(0);
        write(d2, m);
        assertTrue(failure(d2).contains("but there are 9 classes"), failure(d2));
        Path d3 = copy("b3");
        m = manifest(d3);
        stage(m, 1).remove("file");
        write(d3, m);
        assertTrue(failure(d3).contains("has no 'file'"), failure(d3));
    }

    /** Rewrites a TorchScript archive with the first weight tensor negated: same code and shapes, other weights. */
    private static void negateFirstTensor(Path pt) throws IOException {
        Path out = pt.resolveSibling(pt.getFileName() + ".new");
        try (ZipFile zip = new ZipFile(pt.toFile()); ZipOutputStream zos = new ZipOutputStream(Files.newOutputStream(out))) {
            Enumeration<? extends ZipEntry> en = zip.entries();
            while (en.hasMoreElements()) {
                ZipEntry z = en.nextElement();
                byte[] data;
                try (InputStream in = zip.getInputStream(z)) {
                    data = in.readAllBytes();
                }
                if (z.getName().endsWith("/data/0")) {
                    for (int i = 3; i < data.length; i += 4) {
                        data[i] ^= (byte) 0x80;   // little-endian float sign bit
                    }
                }
                ZipEntry n = new ZipEntry(z.getName());
                n.setMethod(ZipEntry.STORED);
                n.setSize(data.length);
                n.setCompressedSize(data.length);
                java.util.zip.CRC32 crc = new java.util.zip.CRC32();
                crc.update(data);
                n.setCrc(crc.getValue());
                zos.putNextEntry(n);
                zos.write(data);
                zos.closeEntry();
            }
        }
        Files.move(out, pt, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    @Test
    void aReplacedStageWithItsHashUpdatedIsRefusedByTheReferenceCheck() throws Exception {
        Path dir = copy();
        JsonObject m = manifest(dir);
        Path f = dir.resolve(stage(m, 3).get("file").getAsString());
        negateFirstTensor(f);
        recordFile(stage(m, 3), f);
        write(dir, m);
        String msg = failure(dir);
        assertTrue(msg.contains("do not reproduce the exporter's reference output"), msg);
        assertTrue(msg.startsWith(dir.resolve("backbone.json").toString()), msg);
    }

    @Test
    void aManifestWithoutHashesOrReferenceIsRefused() throws Exception {
        Path dir = copy();
        JsonObject m = manifest(dir);
        stage(m, 2).remove("sha256");
        write(dir, m);
        String msg = failure(dir);
        assertTrue(msg.contains("stage '" + stage(m, 2).get("name").getAsString() + "' has no valid 'sha256'"), msg);
        Path d2 = copy("b2");
        m = manifest(d2);
        m.remove("reference");
        write(d2, m);
        assertTrue(failure(d2).contains("no 'reference'"), failure(d2));
    }
}
