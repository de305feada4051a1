package org.persephonee.core.data;

import org.persephonee.core.backbone.SampleBackbones;
import org.persephonee.core.util.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Makes the sample personas: simulated personal photo collections drawn from Fashion-MNIST test images
 * with index 0-7999 only (8000-9999 stay reserved for independent evaluation), each with a subset of
 * classes, a class mix of its own and a realistic capture shift.
 */
public final class PersonaGenerator {
    /** Highest Fashion-MNIST test index (exclusive) a persona may use. */
    public static final int MAX_SOURCE_INDEX = 8000;

    /** How one person's camera changes an image. */
    public enum Shift { NIGHT_CAMERA, TILTED_PHONE }

    /**
     * One persona's recipe.
     *
     * @param name folder name
     * @param title one-line description
     * @param story who this person is and how they take pictures
     * @param classes Fashion-MNIST class indices this person owns
     * @param unlabelledWeights relative frequency of each class among unlabelled images
     * @param labelledPerClass labelled training images per class
     * @param unlabelled unlabelled training images in all
     * @param testPerClass held-out labelled images per class
     * @param shift the capture shift
     */
    public record Persona(String name, String title, String story, int[] classes, double[] unlabelledWeights,
                          int labelledPerClass, int unlabelled, int testPerClass, Shift shift) { }

    /** The committed sample personas. */
    public static List<Persona> samples() {
        return List.of(
                new Persona("night-owl", "Dim, blurred, noisy night-time phone camera; 5 classes",
                        "Takes pictures of their own clothes late at night under a weak lamp: images are dark, "
                                + "low-contrast, slightly out of focus and grainy, with a vignette. Owns tops, "
                                + "trousers, dresses, sneakers and bags, mostly sneakers and tops.",
                        new int[] {0, 1, 3, 7, 8}, new double[] {3, 1, 1, 4, 2}, 20, 500, 80, Shift.NIGHT_CAMERA),
                new Persona("tilted-phone", "Tilted, zoomed, off-centre colour phone shots (64x64 JPEG); 4 classes",
                        "Snaps winter wear with a phone held at an angle: images are rotated up to 25 degrees, "
                                + "zoomed in or out, off-centre, warm-tinted colour JPEGs at 64x64. Owns pullovers, "
                                + "coats, shirts and ankle boots, the three upper-body classes the generic "
                                + "model confuses most.",
                        new int[] {2, 4, 6, 9}, new double[] {2, 3, 2, 1}, 15, 400, 80, Shift.TILTED_PHONE));
    }

    /** What was written. */
    public record Summary(String persona, int labelled, int unlabelled, int test, List<String> classes) { }

    private final FashionMnist source;
    private final long seed;

    /**
     * Creates a generator.
     *
     * @param testSplit the Fashion-MNIST test split (only indices below {@link #MAX_SOURCE_INDEX} are used)
     * @param seed seeds the choice of images and the shifts
     */
    public PersonaGenerator(FashionMnist testSplit, long seed) {
        if (testSplit.size() < MAX_SOURCE_INDEX) {
            throw new IllegalArgumentException("expected the 10,000-image Fashion-MNIST test split, got "
                    + testSplit.size() + " images");
        }
        this.source = testSplit;
        this.seed = seed;
    }

    /**
     * Writes all sample personas under {@code out}, each persona folder replaced atomically
     * (written to a temporary folder, then renamed), plus ground truth for the unlabelled images in
     * {@code out/truth/<persona>.csv} (used only by the benchmark's 100%-labels regime).
     */
    public List<Summary> writeAll(Path out) throws IOException {
        Files.createDirectories(out);
        // disjoint source images across personas: one shuffled pool per class
        Random rnd = new Random(seed);
        Map<Integer, List<Integer>> pool = new LinkedHashMap<>();
        for (int i = 0; i < MAX_SOURCE_INDEX; i++) {
            pool.computeIfAbsent(source.labels()[i], k -> new ArrayList<>()).add(i);
        }
        for (List<Integer> l : pool.values()) {
            java.util.Collections.shuffle(l, rnd);
        }
        List<Summary> summaries = new ArrayList<>();
        for (Persona p : samples()) {
            summaries.add(write(p, pool, new Random(seed * 31 + p.name().hashCode()), out));
        }
        return summaries;
    }

    private Summary write(Persona p, Map<Integer, List<Integer>> pool, Random rnd, Path out) throws IOException {
        Path tmp = org.persephonee.core.util.AtomicFiles.createTempDir(out, "." + p.name() + "-");
        List<String> truth = new ArrayList<>();
        truth.add("path,label,source_index");
        List<String> names = new ArrayList<>();
        int labelled = 0;
        int test = 0;
        for (int c : p.classes()) {
            String cls = SampleBackbones.FASHION_MNIST_CLASSES.get(c);
            names.add(cls);
            String folder = folderName(cls);
            for (int k = 0; k < p.labelledPerClass(); k++) {
                int idx = take(pool, c);
                save(p, rnd, idx, tmp.resolve("labelled").resolve(folder), String.format("img%04d", idx));
                labelled++;
            }
            for (int k = 0; k < p.testPerClass(); k++) {
                int idx = take(pool, c);
                save(p, rnd, idx, tmp.resolve("test").resolve(folder), String.format("img%04d", idx));
                test++;
            }
        }
        double total = 0;
        for (double w : p.unlabelledWeights()) {
            total += w;
        }
        for (int k = 0; k < p.unlabelled(); k++) {
            double r = rnd.nextDouble() * total;
            int ci = 0;
            while (ci < p.classes().length - 1 && r >= p.unlabelledWeights()[ci]) {
                r -= p.unlabelledWeights()[ci];
                ci++;
            }
            int c = p.classes()[ci];
            int idx = take(pool, c);
            String file = save(p, rnd, idx, tmp.resolve("unlabelled"), String.format("photo_%04d", k));
            truth.add("unlabelled/" + file + "," + SampleBackbones.FASHION_MNIST_CLASSES.get(c) + "," + idx);
        }
        AtomicFiles.writeString(tmp.resolve("persona.json"), personaJson(p, names, labelled, test));
        Path target = out.resolve(p.name());
        Path old = null;
        if (Files.exists(target)) {
            old = out.resolve("." + p.name() + ".old-" + System.nanoTime());
            Files.move(target, old);
        }
        Files.move(tmp, target);
        if (old != null) {
            org.persephonee.core.util.FileTrees.delete(old);
        }
        AtomicFiles.writeString(out.resolve("truth").resolve(p.name() + ".csv"), String.join("\n", truth) + "\n");
        return new Summary(p.name(), labelled, p.unlabelled(), test, names);
    }

    /** First index of the Fashion-MNIST test images reserved for independent evaluation. */
    public static final int RESERVED_FROM = MAX_SOURCE_INDEX;

    /**
     * Renders an independent evaluation set for a persona into {@code dir/test/<class>/}: up to
     * {@code perClass} images of each of its classes from the reserved test images 8000-9999, with the
     * persona's capture shift. For evaluation at run time only: never commit the result.
     *
     * @return the number of images written
     */
    public int renderReserved(Persona p, int perClass, Path dir) throws IOException {
        Random rnd = new Random(seed * 7919 + p.name().hashCode());
        int written = 0;
        for (int c : p.classes()) {
            String folder = folderName(SampleBackbones.FASHION_MNIST_CLASSES.get(c));
            int n = 0;
            for (int idx = RESERVED_FROM; idx < source.size() && n < perClass; idx++) {
                if (source.labels()[idx] == c) {
                    save(p, rnd, idx, dir.resolve("test").resolve(folder), String.format("img%04d", idx));
                    n++;
                    written++;
                }
            }
        }
        return written;
    }

    private int take(Map<Integer, List<Integer>> pool, int c) {
        List<Integer> l = pool.get(c);
        if (l == null || l.isEmpty()) {
            throw new IllegalStateException("ran out of source images for class " + c);
        }
        int idx = l.remove(l.size() - 1);
        if (idx >= MAX_SOURCE_INDEX) {
            throw new IllegalStateException("reserved index " + idx);
        }
        return idx;
    }

    /** Folder name of a class: lower case, spaces and slashes as underscores ({@code t-shirt_top}). */
    public static String folderName(String cls) {
        return cls.toLowerCase(Locale.ROOT).replace('/', '_').replace(' ', '_');
    }

    private String save(Persona p, Random rnd, int idx, Path dir, String base) throws IOException {
        Files.createDirectories(dir);
        float[] img = new float[28 * 28];
        byte[] src = source.images()[idx];
        for (int i = 0; i < img.length; i++) {
            img[i] = (src[i] & 0xff) / 255f;
        }
        return CaptureShifts.write(p.shift(), img, rnd, dir, base);
    }

    private String personaJson(Persona p, List<String> names, int labelled, int test) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", p.name());
        m.put("title", p.title());
        m.put("story", p.story());
        m.put("classes", names);
        m.put("labelled", labelled);
        m.put("unlabelled", p.unlabelled());
        m.put("test", test);
        m.put("shift", p.shift().name().toLowerCase(Locale.ROOT));
        m.put("source", "Fashion-MNIST test images with index 0-" + (MAX_SOURCE_INDEX - 1)
                + " (Zalando Research, MIT licence)");
        m.put("seed", seed);
        m.put("generator", "./persephonee make-personas --data DIR --out DIR --seed " + seed);
        return new com.google.gson.GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(m) + "\n";
    }

    /** The {@code sample-data/README.md} describing the personas, their provenance and licence. */
    public static String readme(List<Summary> made, long seed) {
        StringBuilder sb = new StringBuilder();
        sb.append("# Sample personas\n\n");
        sb.append("Simulated personal photo collections for the PersEPhonEE Lab, each one person's world: a few "
                + "classes, a class mix of their own and a capture shift the generic backbone never saw. "
                + "Generated by\n\n```\n./persephonee make-personas --data /usr/share/datasets/fashion-mnist "
                + "--out sample-data --seed " + seed + "\n```\n\n(same seed, same files).\n\n");
        sb.append("| persona | classes | labelled | unlabelled | test | capture shift |\n|---|---|---:|---:|---:|---|\n");
        for (Summary s : made) {
            Persona p = samples().stream().filter(x -> x.name().equals(s.persona())).findFirst().orElseThrow();
            sb.append(String.format(Locale.ROOT, "| `%s` | %s | %d | %d | %d | %s |%n", s.persona(),
                    String.join(", ", s.classes()), s.labelled(), s.unlabelled(), s.test(), p.title()));
        }
        sb.append("\n");
        for (Persona p : samples()) {
            sb.append("## ").append(p.name()).append("\n\n").append(p.story()).append("\n\n");
            sb.append(String.format(Locale.ROOT, "%d labelled images per class in `labelled/<class>/`, %d unlabelled "
                    + "images in `unlabelled/` (class mix %s), %d held-out test images per class in "
                    + "`test/<class>/`.%n%n", p.labelledPerClass(), p.unlabelled(),
                    java.util.Arrays.toString(p.unlabelledWeights()), p.testPerClass()));
        }
        sb.append("## Layout\n\n");
        sb.append("`<persona>/labelled/<class>/*`, `<persona>/unlabelled/*`, `<persona>/test/<class>/*` and "
                + "`<persona>/persona.json` (recipe and counts). Class folders use lower-case names "
                + "(`ankle_boot`, `t-shirt_top`) that the lab matches to the backbone's class names. "
                + "`truth/<persona>.csv` holds the true class of each unlabelled image: the lab never reads it; "
                + "the benchmark uses it only for its 100%-labels regime and to measure pseudo-label quality.\n\n");
        sb.append("## Provenance and licence\n\n");
        sb.append("Every image is derived from a Fashion-MNIST **test** image with index 0-"
                + (MAX_SOURCE_INDEX - 1) + " (Xiao, Rasul and Vollgraf, 2017; Zalando Research; MIT licence; "
                + "Debian package `dataset-fashion-mnist`), each source image used at most once across all "
                + "personas. Test images 8000-9999 are reserved for independent evaluation: nothing here uses "
                + "them. The shifts (blur, dimming, noise, vignette; rotation, zoom, offset, tint, JPEG) are "
                + "computed by `PersonaGenerator` in this repository. The derived images are under the same MIT "
                + "licence.\n");
        return sb.toString();
    }
}
