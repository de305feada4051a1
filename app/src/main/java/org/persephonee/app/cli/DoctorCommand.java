package org.persephonee.app.cli;

import org.persephonee.core.engine.Doctor;
import org.persephonee.core.engine.EngineGuard;

import java.io.PrintStream;
import java.util.Set;

/** {@code doctor}: CPU, engine and self-check verdict, threads, folders and display, for a bug report. */
public final class DoctorCommand implements Command {
    @Override public String name() { return "doctor"; }

    @Override public String summary() { return "report CPU, engine self-check verdict and settings (for bug reports)"; }

    @Override public String usage() { return "doctor [--json]"; }

    @Override public Set<String> valuedOptions() { return Set.of(); }

    @Override
    public int run(Args args, PrintStream out, PrintStream err) {
        Doctor.Report r = Doctor.report();
        if (args.flag("json")) {
            out.println(EngineGuard.toJson(r));
        } else {
            Doctor.lines(r).forEach(out::println);
        }
        return "unsafe".equals(r.verdict().status()) || r.engine().startsWith("not started") ? 1 : 0;
    }
}
