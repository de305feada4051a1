package org.persephonee.app.cli;

import org.persephonee.core.deploy.TorchScriptExport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** {@code export-torchscript}: a bundle as a TorchScript / PyTorch Mobile early-exit module, checked for parity. */
@Command(name = "export-torchscript", customSynopsis = "persephonee export-torchscript --bundle BUNDLE_DIR --out DIR "
        + "[--data PERSONA_DIR] [--images N] [--seed N] [--python PATH]",
        description = "export a bundle as a TorchScript / PyTorch Mobile early-exit module, checked against this runtime")
public final class ExportTorchScriptCommand extends CliCommand {
    @Option(names = "--bundle", required = true, paramLabel = "BUNDLE_DIR", description = "a bundle from personalise "
            + "or the lab")
    Path bundle;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "folder to write")
    Path out;

    @Option(names = "--data", paramLabel = "PERSONA_DIR", description = "the person's images to compare on (test "
            + "images first); without it, seeded noise images only")
    Path data;

    @Option(names = "--images", paramLabel = "N", description = "at most N of the person's images (default "
            + "${DEFAULT-VALUE})")
    int images = 400;

    @Option(names = "--seed", paramLabel = "N", description = "default ${DEFAULT-VALUE}")
    long seed = 42;

    @Option(names = "--python", paramLabel = "PATH", description = "Python with PyTorch (default ${DEFAULT-VALUE})")
    Path python = Path.of("/usr/bin/python3");

    @Override
    protected int run(PrintStream out, PrintStream err) throws Exception {
        if (!Files.isDirectory(bundle)) {
            throw new CliException(bundle + ": not a folder");
        }
        if (data != null && !Files.isDirectory(data)) {
            throw new CliException(data + ": not a folder");
        }
        if (images < 0) {
            throw new CliException("--images must be >= 0");
        }
        Path script = TorchScriptExport.defaultScript();
        TorchScriptExport.Result r;
        try {
            r = TorchScriptExport.export(bundle, this.out, data, images, seed, script, python, err);
        } catch (java.io.IOException | org.persephonee.core.export.BundleException e) {
            err.println("error: " + e.getMessage());
            return 1;
        }
        if (r.problem() != null) {
            err.println("error: " + r.describe());
            return 1;
        }
        out.println("exported " + r.out() + ": model.pt, model.ptl, deploy.json; " + r.describe());
        return 0;
    }
}
