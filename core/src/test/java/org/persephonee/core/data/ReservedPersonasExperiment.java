package org.persephonee.core.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Measurement, not a test: renders personas nobody tuned anything on, from the reserved Fashion-MNIST test images
 * 8000-9999: random class subsets (3-7 classes), both capture shifts, up to {@code perClass} images of each class
 * into {@code out/<name>/test/<class>/}. Never commit the result. Args: Fashion-MNIST dir, out dir, personas,
 * per class, seed, and optionally labelled and unlabelled per class: then each class's images are split (seeded)
 * into {@code labelled/<class>/}, {@code unlabelled/} (their classes in {@code out/truth/<name>.csv}, as
 * {@code sample-data/truth}) and the rest in {@code test/<class>/}, a persona the pipeline can personalise and score
 * (session 18 checked the few-label bar rule on 8 of them: 150 per class, 5 labelled, 95 unlabelled).
 */
public final class ReservedPersonasExperiment {
    public static void main(String[] a) throws Exception {
        FashionMnist fm = FashionMnist.load(Path.of(a[0]), FashionMnist.Split.TEST);
        Path out = Path.of(a[1]);
        int n = Integer.parseInt(a[2]);
        int perClass = Integer.parseInt(a[3]);
        long seed = Long.parseLong(a[4]);
        Random rnd = new Random(seed);
        PersonaGenerator gen = new PersonaGenerator(fm, seed);
        for (int k = 0; k < n; k++) {
            List<Integer> all = new ArrayList<>(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
            Collections.shuffle(all, rnd);
            int size = 3 + rnd.nextInt(5);
            int[] classes = all.subList(0, size).stream().sorted().mapToInt(Integer::intValue).toArray();
            PersonaGenerator.Shift shift = k % 2 == 0 ? PersonaGenerator.Shift.NIGHT_CAMERA
                    : PersonaGenerator.Shift.TILTED_PHONE;
            String name = "reserved-" + k;
            PersonaGenerator.Persona p = new PersonaGenerator.Persona(name, name, name, classes,
                    new double[classes.length], 0, 0, 0, shift);
            int w = gen.renderReserved(p, perClass, out.resolve(name));
            System.out.println(name + " " + shift + " " + java.util.Arrays.toString(classes) + " " + w + " images");
            if (a.length >= 7) {
                split(out, name, Integer.parseInt(a[5]), Integer.parseInt(a[6]), new Random(seed + k));
            }
        }
    }

    /** Moves {@code labelled} and then {@code unlabelled} images of each test class out of {@code test/}. */
    private static void split(Path out, String name, int labelled, int unlabelled, Random rnd) throws Exception {
        Path dir = out.resolve(name);
        java.util.Map<String, String> display = new java.util.HashMap<>();
        for (String c : org.persephonee.core.backbone.SampleBackbones.FASHION_MNIST_CLASSES) {
            display.put(PersonaGenerator.folderName(c), c);
        }
        java.nio.file.Files.createDirectories(out.resolve("truth"));
        java.nio.file.Files.createDirectories(dir.resolve("unlabelled"));
        int next = 0;
        List<Path> classes;
        try (var s = java.nio.file.Files.list(dir.resolve("test"))) {
            classes = s.sorted().toList();
        }
        try (var csv = new org.apache.commons.csv.CSVPrinter(java.nio.file.Files.newBufferedWriter(
                out.resolve("truth").resolve(name + ".csv")), org.apache.commons.csv.CSVFormat.DEFAULT)) {
            csv.printRecord("path", "label");
            for (Path cls : classes) {
                List<Path> files;
                try (var s = java.nio.file.Files.list(cls)) {
                    files = new ArrayList<>(s.sorted().toList());
                }
                Collections.shuffle(files, rnd);
                String folder = cls.getFileName().toString();
                Path lab = java.nio.file.Files.createDirectories(dir.resolve("labelled").resolve(folder));
                for (int i = 0; i < Math.min(files.size(), labelled + unlabelled); i++) {
                    Path f = files.get(i);
                    if (i < labelled) {
                        java.nio.file.Files.move(f, lab.resolve(f.getFileName()));
                    } else {
                        String n = f.getFileName().toString();
                        String rel = String.format("unlabelled/photo_%04d%s", next++, n.substring(n.lastIndexOf('.')));
                        java.nio.file.Files.move(f, dir.resolve(rel));
                        csv.printRecord(rel, display.getOrDefault(folder, folder));
                    }
                }
            }
        }
    }
}
