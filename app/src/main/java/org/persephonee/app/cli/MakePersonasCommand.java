package org.persephonee.app.cli;

import org.persephonee.core.data.FashionMnist;
import org.persephonee.core.data.PersonaGenerator;
import org.persephonee.core.util.AtomicFiles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/** {@code make-personas}: writes the sample personas from Fashion-MNIST test images 0-7999. */
@Command(name = "make-personas", customSynopsis = "persephonee make-personas --data DIR --out DIR [--seed N]",
        description = "generate the sample personas from Fashion-MNIST test images 0-7999")
public final class MakePersonasCommand extends CliCommand {
    @Option(names = "--data", required = true, paramLabel = "DIR",
            description = "folder with the Fashion-MNIST IDX files (Debian: " + FashionMnist.DEBIAN_DIR_NAME + ")")
    Path data;

    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "folder to write the personas into (e.g. sample-data)")
    Path dir;

    @Option(names = "--seed", paramLabel = "N", description = "random seed (default ${DEFAULT-VALUE})")
    long seed = 2021;

    @Override
    protected int run(PrintStream out, PrintStream err) throws Exception {
        FashionMnist test = FashionMnist.load(data, FashionMnist.Split.TEST);
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
