package org.persephonee.app.cli;

import org.persephonee.core.engine.EngineSmoke;

import java.io.PrintStream;
import java.util.Set;

/** {@code smoke}: a forward and backward pass on the bundled libtorch, with no network needed. */
public final class SmokeCommand implements Command {
    @Override public String name() { return "smoke"; }

    @Override public String summary() { return "check the deep-learning engine works offline (forward + backward)"; }

    @Override public String usage() { return "smoke [--json]"; }

    @Override public Set<String> valuedOptions() { return Set.of(); }

    @Override
    public int run(Args args, PrintStream out, PrintStream err) throws Exception {
        EngineSmoke.Report r = EngineSmoke.run();
        if (args.flag("json")) {
            out.println(Json.of(r));
        } else {
            out.printf("engine %s works offline: forward + backward, loss %.4f, gradient norm %.4f, %.1f s%n",
                    r.engine(), r.loss(), r.gradientNorm(), r.seconds());
        }
        return r.gradientNorm() > 0 ? 0 : 1;
    }
}
