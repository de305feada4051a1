package org.persephonee.app;

import org.persephonee.app.cli.Cli;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Main class: no arguments (or a folder) opens the lab, {@code --version}/{@code --help} print and exit,
 * a subcommand runs the CLI. Not a JavaFX Application itself, so it runs from a plain classpath.
 */
public final class Launcher {
    private Launcher() { }

    /** The project version from the jar manifest, or "dev". */
    public static String version() {
        String v = Launcher.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    public static void main(String[] args) {
        if (args.length == 1 && args[0].equals("--engine-probe")) {
            // the engine self-check's child process (app images have no separate java binary to start it)
            org.persephonee.core.engine.EngineProbe.main(args);
            return;
        }
        if (args.length == 1 && (args[0].equals("--version") || args[0].equals("-V"))) {
            System.out.println("PersEPhonEE Lab " + version() + " (Java " + System.getProperty("java.version")
                    + ", DJL 0.36.0, PyTorch 2.7.1 CPU)");
            System.exit(0);
        }
        boolean folder = args.length == 1 && Files.isDirectory(Path.of(args[0]));
        if (args.length == 0 || folder || args[0].equals("lab")) {
            if (isLinux() && System.getenv("DISPLAY") == null && System.getenv("WAYLAND_DISPLAY") == null
                    && !"Monocle".equals(System.getProperty("glass.platform"))) {
                System.err.println("persephonee: no display found, so the lab cannot open a window. "
                        + "Run it in a desktop session (or under Xvfb), or use a subcommand: persephonee help");
                System.exit(2);
            }
            org.persephonee.views.StartupTimeline.mark("main");
            org.persephonee.app.gui.LabApp.launchLab(folder ? new String[] {Path.of(args[0]).toAbsolutePath()
                    .toString()} : new String[0]);
            System.exit(0);
        }
        System.exit(new Cli().run(args, System.out, System.err));
    }

    private static boolean isLinux() {
        return System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux");
    }
}
