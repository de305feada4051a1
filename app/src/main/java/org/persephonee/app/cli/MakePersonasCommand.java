package org.persephonee.app.cli;

import org.persephonee.core.data.FashionMnist;
import org.persephonee.core.data.PersonaGenerator;
import org.persephonee.core.util.AtomicFiles;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/** {@code make-personas}: writes the sample personas from Fashion-MNIST test images 0-7999. */
public final class MakePersonasCommand implements Command {
    @Override public String name() { return "make-personas"; }

    @Override public String summary() { return "generate the sample personas from Fashion-MNIST test images 0-7999"; }

    @Override public String usage() {
        return "make-personas --data DIR --out DIR [--seed N]\n"
                + "  --data  folder with the Fashion-MNIST IDX files (Debian: " + FashionMnist.DEBIAN_DIR + ")\n"
                + "  --out   folder to write the personas into (e.g. sample-data)\n"
                + "  --seed  random seed (default 2021)";
    }

    @Override public Set<String> valuedOptions() { return Set.of("data", "out", "seed"); }

    @Override
    public int run(Args args, PrintStream out, PrintStream err) throws Exception {
        FashionMnist test = FashionMnist.load(args.path("data"), FashionMnist.Split.TEST);
        Path dir = args.path("out");
        long seed = args.longValue("seed", 2021);
        List<PersonaGenerator.Summary> made = new PersonaGenerator(test, seed).writeAll(dir);
        AtomicFiles.writeString(dir.resolve("README.md"), PersonaGenerator.readme(made, seed));
        for (PersonaGenerator.Summary s : made) {
            out.printf("%-14s %3d labelled, %3d unlabelled, %3d test  classes %s%n", s.persona(), s.labelled(),
                    s.unlabelled(), s.test(), s.classes());
        }
        out.println("wrote " + dir.resolve("README.md"));
        return 0;
    }
}
