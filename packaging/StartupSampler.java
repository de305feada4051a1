import java.awt.Rectangle;
import java.awt.Robot;
import java.awt.Toolkit;
import java.awt.image.BufferedImage;
import java.io.File;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Launches a command on the current X display and prints the seconds from launch to the first screen with
 * content: more than 50 distinct colours (a blank window has one or two; the lab's first view has over a
 * thousand). Samples the screen every 50 ms with {@link Robot} (a capture costs ~15 ms here, where running
 * ImageMagick's import per sample cost half a second of CPU and slowed the start it measured). Then lets the
 * command run for a few seconds and stops it. Prints "timeout" after 60 s without content.
 *
 * <p>usage: {@code java packaging/StartupSampler.java LOG_FILE SETTLE_SECONDS COMMAND [ARGS...]}
 * (run by packaging/startup-check.sh; the environment, HOME included, is passed on)
 */
public final class StartupSampler {
    private static final int CONTENT_COLOURS = 50;

    public static void main(String[] args) throws Exception {
        File log = new File(args[0]);
        double settle = Double.parseDouble(args[1]);
        List<String> command = Arrays.asList(args).subList(2, args.length);
        Robot robot = new Robot();
        Rectangle screen = new Rectangle(Toolkit.getDefaultToolkit().getScreenSize());
        if (colours(robot.createScreenCapture(screen)) > CONTENT_COLOURS) {
            System.err.println("StartupSampler: the screen already has content before the launch");
            System.exit(2);
        }
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.to(log)).start();
        String result = "timeout";
        while (System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(60) && p.isAlive()) {
            int k = colours(robot.createScreenCapture(screen));
            if (k > CONTENT_COLOURS) {
                // on screen by the end of the capture (an upper bound, within one capture of the truth)
                result = String.format(java.util.Locale.ROOT, "%.2f", (System.nanoTime() - t0) / 1e9);
                break;
            }
            Thread.sleep(50);
        }
        if (!p.isAlive() && "timeout".equals(result)) {
            result = "exited";
        }
        Thread.sleep((long) (settle * 1000));
        p.toHandle().descendants().forEach(ProcessHandle::destroy);
        p.destroy();
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
        }
        System.out.println(result);
    }

    /** Distinct colours over every 4th pixel of every 4th row. */
    private static int colours(BufferedImage img) {
        Set<Integer> seen = new HashSet<>();
        for (int y = 0; y < img.getHeight(); y += 4) {
            for (int x = 0; x < img.getWidth(); x += 4) {
                seen.add(img.getRGB(x, y) & 0xffffff);
                if (seen.size() > CONTENT_COLOURS) {
                    return seen.size();
                }
            }
        }
        return seen.size();
    }
}
