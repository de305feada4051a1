package org.persephonee.app;

import org.persephonee.app.cli.Cli;

/** Main class: no arguments opens the lab, a subcommand runs the CLI. */
public final class Launcher {
    private Launcher() { }

    public static void main(String[] args) {
        if (args.length == 0 || args[0].equals("lab")) {
            org.persephonee.app.gui.LabApp.launchLab(new String[0]);
            System.exit(0);
        }
        System.exit(new Cli().run(args, System.out, System.err));
    }
}
