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
 * per class, seed.
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
        }
    }
}
