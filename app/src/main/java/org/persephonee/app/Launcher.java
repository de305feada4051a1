package org.persephonee.app;

import org.persephonee.app.cli.Cli;

/** Main class: no arguments opens the lab, a subcommand runs the CLI. */
public final class Launcher {
    private Launcher() { }

    public static void main(String[] args) {
        if (args.length == 0) {
            System.exit(new Cli().run(new String[] {"inspect", "--backbone", "sample-models/fmnist-resnet9"},
                    System.out, System.err));
        }
        System.exit(new Cli().run(args, System.out, System.err));
    }
}
