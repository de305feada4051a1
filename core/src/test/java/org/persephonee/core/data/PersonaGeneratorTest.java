package org.persephonee.core.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.backbone.SampleBackbones;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PersonaGeneratorTest {
    @TempDir
    Path tmp;

    /** A stand-in for the 10,000 test images: random pixels, labels cycling through the classes. */
    private static FashionMnist fake() {
        Random r = new Random(1);
        byte[][] img = new byte[10_000][784];
        int[] lab = new int[10_000];
        for (int i = 0; i < img.length; i++) {
            r.nextBytes(img[i]);
            lab[i] = i % 10;
        }
        return new FashionMnist(img, lab);
    }

    private static Set<Integer> sourceIndices(Path persona, Path truth) throws Exception {
        Set<Integer> idx = new HashSet<>();
        try (Stream<Path> s = Files.walk(persona)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                String n = p.getFileName().toString();
                if (n.startsWith("img")) {
                    assertTrue(idx.add(Integer.parseInt(n.substring(3, 7))), "image used twice: " + p);
                }
            }
        }
        for (String line : Files.readAllLines(truth).subList(1, Files.readAllLines(truth).size())) {
            assertTrue(idx.add(Integer.parseInt(line.split(",")[2])), "image used twice: " + line);
        }
        return idx;
    }

    @Test
    void personasUseOnlyUnreservedTestImagesOnceAndFollowTheLayout() throws Exception {
        List<PersonaGenerator.Summary> made = new PersonaGenerator(fake(), 5).writeAll(tmp);
        assertEquals(2, made.size());
        Set<Integer> all = new HashSet<>();
        for (PersonaGenerator.Summary s : made) {
            Path dir = tmp.resolve(s.persona());
            Set<Integer> idx = sourceIndices(dir, tmp.resolve("truth").resolve(s.persona() + ".csv"));
            assertTrue(idx.stream().allMatch(i -> i < 8000), "reserved test image used");
            for (int i : idx) {
                assertTrue(all.add(i), "image shared between personas: " + i);
            }
            ImageImporter.Result r = new ImageImporter(new LabelSpace(SampleBackbones.FASHION_MNIST_CLASSES), null)
                    .importFolder(dir, null, () -> false);
            assertTrue(r.skipped().isEmpty(), r.skipped().toString());
            Map<String, Integer> train = r.dataset().countsByClass(PersonalImage.Split.TRAIN);
            Map<String, Integer> test = r.dataset().countsByClass(PersonalImage.Split.TEST);
            assertTrue(s.classes().size() >= 3 && s.classes().size() <= 5);
            assertEquals(Set.copyOf(s.classes()), train.keySet());
            train.values().forEach(n -> assertTrue(n >= 10 && n <= 25, "labelled per class " + n));
            test.values().forEach(n -> assertTrue(n >= 60, "test per class " + n));
            assertTrue(r.dataset().unlabelled().size() >= 300);
        }
    }

    @Test
    void sameSeedSameFiles() throws Exception {
        new PersonaGenerator(fake(), 9).writeAll(tmp.resolve("a"));
        new PersonaGenerator(fake(), 9).writeAll(tmp.resolve("b"));
        Path f = Path.of("night-owl", "unlabelled", "photo_0007.png");
        assertTrue(java.util.Arrays.equals(Files.readAllBytes(tmp.resolve("a").resolve(f)),
                Files.readAllBytes(tmp.resolve("b").resolve(f))));
        Path g = Path.of("tilted-phone", "unlabelled", "photo_0003.jpg");
        assertTrue(java.util.Arrays.equals(Files.readAllBytes(tmp.resolve("a").resolve(g)),
                Files.readAllBytes(tmp.resolve("b").resolve(g))));
    }

    /** The committed sample data follows the same contract. */
    @Test
    void committedSampleDataFollowsTheContract() throws Exception {
        Path sample = Path.of("..", "sample-data").toAbsolutePath().normalize();
        for (PersonaGenerator.Persona p : PersonaGenerator.samples()) {
            Set<Integer> idx = sourceIndices(sample.resolve(p.name()), sample.resolve("truth").resolve(p.name() + ".csv"));
            assertTrue(idx.stream().allMatch(i -> i < 8000), "reserved test image committed in " + p.name());
            assertEquals(p.classes().length * (p.labelledPerClass() + p.testPerClass()) + p.unlabelled(), idx.size());
        }
    }
}
