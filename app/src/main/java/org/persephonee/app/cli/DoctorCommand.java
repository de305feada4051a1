package org.persephonee.app.cli;

import org.persephonee.core.engine.Doctor;
import org.persephonee.core.engine.EngineGuard;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;

/** {@code doctor}: CPU, engine and self-check verdict, threads, folders and display, for a bug report. */
@Command(name = "doctor", customSynopsis = "persephonee doctor [--json]",
        description = "report CPU, engine self-check verdict and settings (for bug reports)")
public final class DoctorCommand extends CliCommand {
    @Option(names = "--json", description = "print the report as JSON")
    boolean json;

    @Override
    protected int run(PrintStream out, PrintStream err) {
        Doctor.Report r = Doctor.report();
        if (json) {
            out.println(EngineGuard.toJson(r));
        } else {
            Doctor.lines(r).forEach(out::println);
        }
        return "unsafe".equals(r.verdict().status()) || r.engine().startsWith("not started") ? 1 : 0;
    }
}
