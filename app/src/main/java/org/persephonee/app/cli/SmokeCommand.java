package org.persephonee.app.cli;

import org.persephonee.core.engine.EngineSmoke;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;

/** {@code smoke}: a forward and backward pass on the bundled libtorch, with no network needed. */
@Command(name = "smoke", customSynopsis = "persephonee smoke [--json]",
        description = "check the deep-learning engine works offline (forward + backward)")
public final class SmokeCommand extends CliCommand {
    @Option(names = "--json", description = "print the result as JSON")
    boolean json;

    @Override
    protected int run(PrintStream out, PrintStream err) throws Exception {
        EngineSmoke.Report r = EngineSmoke.run();
        if (json) {
            out.println(Json.of(r));
        } else {
            out.printf("engine %s works offline: forward + backward, loss %.4f, gradient norm %.4f, %.1f s%n",
                    r.engine(), r.loss(), r.gradientNorm(), r.seconds());
        }
        return r.gradientNorm() > 0 ? 0 : 1;
    }
}
