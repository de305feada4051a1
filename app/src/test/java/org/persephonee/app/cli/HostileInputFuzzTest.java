package org.persephonee.app.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.backbone.Backbone;
import org.persephonee.core.backbone.BackboneIO;
import org.persephonee.core.backbone.SampleBackbones;
import org.persephonee.core.data.ImageDecodeException;
import org.persephonee.core.data.ImageDecoder;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Seeded fuzzing of everything a user hands the tool: sample images cut short and with bytes flipped,
 * backbone manifests and bundles with damaged bytes or odd JSON values, and random {@code labels.csv} rows.
 * Every input must end in an exit code and a message: no crash, no hang, no internal error text.
 */
class HostileInputFuzzTest {
    @TempDir
    static Path tmp;
    static Path backbone;
    static Path persona;
    static Path bundle;
    /** Fixed in CI; another seed (-Dpersephonee.fuzz.seed=N) explores other damage. */
    static final long SEED = Long.getLong("persephonee.fuzz.seed", 20261202L);

    /** Messages that betray an unhandled internal error rather than a description of the input. */
    private static final Pattern INTERNAL = Pattern.compile("Cannot invoke|because \"|is null|out of bounds for length"
            + "|NullPointer|ClassCast|IllegalState|NumberFormat|For input string|Exception|\tat ");

    @BeforeAll
    static void setUp() throws Exception {
        backbone = tmp.resolve("bb");
        org.persephonee.core.engine.Engines.seed(5);
        try (Backbone bb = Backbone.fromSpec(SampleBackbones.resnet("small", 4, new int[] {4, 8, 8}))) {
            bb.initialize();
            BackboneIO.save(bb, backbone);
        }
        persona = tmp.resolve("persona");
        Path src = Path.of("..", "sample-data", "night-owl");
        for (String cls : List.of("bag", "trouser")) {
            List<Path> files = list(src.resolve("labelled").resolve(cls));
            for (int i = 0; i < 6; i++) {
                copy(files.get(i), persona.resolve("labelled").resolve(cls).resolve(files.get(i).getFileName()));
            }
            List<Path> test = list(src.resolve("test").resolve(cls));
            for (int i = 0; i < 3; i++) {
                copy(test.get(i), persona.resolve("test").resolve(cls).resolve(test.get(i).getFileName()));
            }
        }
        bundle = tmp.resolve("bundle");
        CliTest.Run r = CliTest.cli("personalise", "--backbone", backbone.toString(), "--data", persona.toString(),
                "--exits", "block1:linear,block2:linear", "--epochs", "1", "--out", bundle.toString());
        assertEquals(0, r.code(), r.err());
    }

    private static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    private static void copy(Path from, Path to) throws IOException {
        Files.createDirectories(to.getParent());
        Files.copy(from, to);
    }

    private static byte[] mutateBytes(byte[] in, Random r) {
        byte[] b = in.clone();
        switch (r.nextInt(4)) {
            case 0 -> b = Arrays.copyOf(b, r.nextInt(Math.max(1, b.length)));            // truncated
            case 1 -> {                                                                 // bytes flipped
                for (int k = 0, n = 1 + r.nextInt(8); k < n && b.length > 0; k++) {
                    b[r.nextInt(b.length)] ^= (byte) (1 + r.nextInt(255));
                }
            }
            case 2 -> {                                                                 // a range zeroed
                if (b.length > 0) {
                    int from = r.nextInt(b.length);
                    Arrays.fill(b, from, Math.min(b.length, from + 1 + r.nextInt(64)), (byte) 0);
                }
            }
            default -> {                                                                // junk appended
                byte[] junk = new byte[1 + r.nextInt(64)];
                r.nextBytes(junk);
                byte[] c = Arrays.copyOf(b, b.length + junk.length);
                System.arraycopy(junk, 0, c, b.length, junk.length);
                b = c;
            }
        }
        return b;
    }

    private static final JsonElement[] ODD = {
        new JsonPrimitive(-1), new JsonPrimitive(0), new JsonPrimitive(1e12), new JsonPrimitive("abc"),
        new JsonPrimitive(""), new JsonPrimitive("../../etc/passwd"), new JsonPrimitive("/tmp"),
        com.google.gson.JsonNull.INSTANCE, new JsonArray(), new JsonObject(), new JsonPrimitive(true),
        new JsonPrimitive(2147483648L), new JsonPrimitive(0.5),
    };

    /** Replaces one random value (or drops one random key) anywhere in a JSON document. */
    private static String mutateJson(String text, Random r) {
        JsonElement root = JsonParser.parseString(text);
        List<Runnable> edits = new ArrayList<>();
        collect(root, edits, r);
        edits.get(r.nextInt(edits.size())).run();
        return root.toString();
    }

    private static void collect(JsonElement e, List<Runnable> edits, Random r) {
        if (e.isJsonObject()) {
            JsonObject o = e.getAsJsonObject();
            for (String k : new ArrayList<>(o.keySet())) {
                edits.add(() -> o.add(k, ODD[r.nextInt(ODD.length)]));
                edits.add(() -> o.remove(k));
                collect(o.get(k), edits, r);
            }
        } else if (e.isJsonArray()) {
            JsonArray a = e.getAsJsonArray();
            for (int i = 0; i < a.size(); i++) {
                int idx = i;
                edits.add(() -> a.set(idx, ODD[r.nextInt(ODD.length)]));
                collect(a.get(i), edits, r);
            }
            if (a.size() > 0) {
                edits.add(() -> a.remove(a.size() - 1));
            }
        }
    }

    /** Runs the CLI with a time limit and checks it ended in a code and, when it failed, a plain message. */
    private static CliTest.Run run(String what, String... args) {
        String shortWhat = what.length() > 300 ? what.substring(0, 300).replace('\n', ' ') + "..." : what;
        CliTest.Run r = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> CliTest.cli(args), shortWhat + " hung");
        what = "[" + r.err().strip() + "] after " + shortWhat;
        assertTrue(r.code() >= 0 && r.code() <= 2, what + ": exit " + r.code());
        if (r.code() != 0) {
            assertTrue(r.err().contains("error: "), what + ": no message: " + r.err());
        }
        assertFalse(INTERNAL.matcher(r.err()).find(), what + ": internal error text: " + r.err());
        return r;
    }


    @Test
    void damagedImagesAreDecodedOrRefusedWithTheirName() throws Exception {
        Random r = new Random(SEED);
        List<Path> sources = new ArrayList<>(list(persona.resolve("labelled").resolve("bag")).subList(0, 3));
        sources.addAll(list(Path.of("..", "sample-data", "tilted-phone", "unlabelled")).subList(0, 3));
        Path dir = tmp.resolve("damaged");
        Files.createDirectories(dir);
        int n = 80;
        org.persephonee.core.backbone.InputSpec spec = BackboneIO.readInfo(backbone).input();
        for (int i = 0; i < n; i++) {
            Path s = sources.get(r.nextInt(sources.size()));
            String name = s.getFileName().toString();
            Path f = dir.resolve(String.format("f%03d%s", i, name.substring(name.lastIndexOf('.'))));
            Files.write(f, mutateBytes(Files.readAllBytes(s), r));
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                try {
                    float[] x = ImageDecoder.decode(f, spec);
                    for (float v : x) {
                        assertTrue(Float.isFinite(v), f + " decoded to a non-finite value");
                    }
                } catch (ImageDecodeException e) {
                    assertTrue(e.getMessage().startsWith(f.toString() + ": "), e.getMessage());
                } catch (RuntimeException e) {
                    fail(f + " (" + s.getFileName() + " damaged): " + e);
                }
            }, f + " hung the decoder");
        }
        CliTest.Run imp = run("import of damaged images", "import", "--data", dir.toString(), "--backbone",
                backbone.toString(), "--json");
        assertEquals(0, imp.code(), imp.err());
        JsonObject o = JsonParser.parseString(imp.out()).getAsJsonObject();
        assertEquals(n, o.get("images").getAsInt() + o.getAsJsonArray("skipped").size(), imp.out());
        assertTrue(o.getAsJsonArray("skipped").size() >= n / 4, "the damage should make many images unreadable: "
                + o.getAsJsonArray("skipped").size() + " of " + n);
    }

    @Test
    void randomLabelsCsvRowsNeverFailTheImport() throws Exception {
        Random r = new Random(SEED + 1);
        Path p = tmp.resolve("csv-persona");
        org.persephonee.core.util.FileTrees.copy(persona.resolve("labelled").resolve("bag"), p.resolve("unlabelled"));
        List<String> names = list(p.resolve("unlabelled")).stream().map(f -> "unlabelled/" + f.getFileName()).toList();
        String[] paths = {"../outside.png", "/etc/passwd", "", "\"quoted, with comma.png\"", "unlabelled",
            "unlabelled/missing.png", "ünïcödé.png", "a".repeat(300)};
        String[] labels = {"bag", "Trouser", "", "\"t-shirt/top\"", "new class", "b,a,g", "ünï", "\u0000", "x".repeat(200)};
        for (int round = 0; round < 15; round++) {
            StringBuilder csv = new StringBuilder(r.nextBoolean() ? "path,label\n" : "");
            for (int i = 0, rows = r.nextInt(12); i < rows; i++) {
                String path = r.nextInt(3) == 0 ? paths[r.nextInt(paths.length)] : names.get(r.nextInt(names.size()));
                String label = labels[r.nextInt(labels.length)];
                csv.append(switch (r.nextInt(5)) {
                    case 0 -> path;
                    case 1 -> path + "," + label + "," + label;
                    default -> path + "," + label;
                }).append(r.nextBoolean() ? "\n" : "\r\n");
            }
            byte[] bytes = csv.toString().getBytes(r.nextBoolean() ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
            Files.write(p.resolve("labels.csv"), r.nextInt(4) == 0 ? mutateBytes(bytes, r) : bytes);
            CliTest.Run imp = run("import with labels.csv round " + round, "import", "--data", p.toString(), "--json");
            assertEquals(0, imp.code(), imp.err());
            JsonObject o = JsonParser.parseString(imp.out()).getAsJsonObject();
            assertEquals(names.size(), o.get("images").getAsInt(), "round " + round + ": " + csv + "\n" + imp.out());
        }
    }

    @Test
    void damagedBackboneManifestsAreRefusedWithAMessage() throws Exception {
        Random r = new Random(SEED + 2);
        String json = Files.readString(backbone.resolve("backbone.json"));
        int refused = 0;
        for (int i = 0; i < 40; i++) {
            Path dir = tmp.resolve("manifest-" + i);
            org.persephonee.core.util.FileTrees.copy(backbone, dir);
            String mutated = r.nextInt(3) == 0
                    ? new String(mutateBytes(json.getBytes(StandardCharsets.UTF_8), r), StandardCharsets.UTF_8)
                    : mutateJson(json, r);
            Files.writeString(dir.resolve("backbone.json"), mutated);
            refused += run("inspect of manifest " + i + ": " + mutated, "inspect", "--backbone", dir.toString())
                    .code() == 0 ? 0 : 1;
        }
        assertTrue(refused >= 10, "only " + refused + " of 40 damaged manifests refused");
        Path dir = tmp.resolve("params-damaged");
        org.persephonee.core.util.FileTrees.copy(backbone, dir);
        Files.write(dir.resolve("backbone.params"), mutateBytes(Files.readAllBytes(dir.resolve("backbone.params")), r));
        run("inspect of damaged parameters", "inspect", "--backbone", dir.toString());
    }

    @Test
    void damagedBundlesAreRefusedWithAMessage() throws Exception {
        Random r = new Random(SEED + 3);
        String json = Files.readString(bundle.resolve("exit-config.json"));
        List<Path> weights;
        try (Stream<Path> s = Files.list(bundle)) {
            weights = s.filter(f -> f.toString().endsWith(".params")).sorted().toList();
        }
        int refused = 0;
        for (int i = 0; i < 40; i++) {
            Path dir = tmp.resolve("bundle-" + i);
            org.persephonee.core.util.FileTrees.copy(bundle, dir);
            String what;
            if (i % 5 == 4) {
                Path w = dir.resolve(weights.get(r.nextInt(weights.size())).getFileName());
                Files.write(w, mutateBytes(Files.readAllBytes(w), r));
                what = "damaged " + w.getFileName();
            } else {
                what = r.nextInt(3) == 0
                        ? new String(mutateBytes(json.getBytes(StandardCharsets.UTF_8), r), StandardCharsets.UTF_8)
                        : mutateJson(json, r);
                Files.writeString(dir.resolve("exit-config.json"), what);
            }
            refused += run("evaluate of bundle " + i + ": " + what, "evaluate", "--bundle", dir.toString(), "--data",
                    persona.toString()).code() == 0 ? 0 : 1;
        }
        assertTrue(refused >= 10, "only " + refused + " of 40 damaged bundles refused");
    }
}
