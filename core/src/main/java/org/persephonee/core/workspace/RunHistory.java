package org.persephonee.core.workspace;

import org.persephonee.core.util.FileTrees;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Every run of a workspace, kept with its configuration and results ({@link RunRecord}s in numbered folders under
 * {@code runs/}), newest first, the oldest removed beyond {@link #KEEP}. Each record is written atomically; a folder
 * that cannot be read is skipped and named.
 */
public final class RunHistory {
    /** Folder of the history inside the workspace. */
    public static final String DIR = "runs";
    /** Runs kept; older ones are removed when a new one is added. */
    public static final int KEEP = 20;

    /**
     * One kept run.
     *
     * @param number its number in the workspace (1 for the first run, counting on after removals)
     * @param record what it produced
     */
    public record Entry(int number, RunRecord record) { }

    /**
     * The runs that could be read, newest first, and the folders that could not (with why).
     *
     * @param entries the runs
     * @param problems one line per unreadable folder
     */
    public record Listing(List<Entry> entries, List<String> problems) { }

    private final Path dir;

    /** The history of the workspace in {@code workspaceDir}. */
    public RunHistory(Path workspaceDir) {
        this.dir = workspaceDir.resolve(DIR);
    }

    /** Keeps a run; returns its number. Removes the oldest beyond {@link #KEEP}. */
    public synchronized int add(RunRecord rec) throws IOException {
        Files.createDirectories(dir);
        List<Integer> numbers = numbers();
        int next = numbers.isEmpty() ? 1 : numbers.get(numbers.size() - 1) + 1;
        Path run = dir.resolve(String.format("%04d", next));
        Files.createDirectories(run);
        rec.saveWithoutValidation(run);
        numbers.add(next);
        while (numbers.size() > KEEP) {
            FileTrees.delete(dir.resolve(String.format("%04d", numbers.remove(0))));
        }
        return next;
    }

    /** Reads every kept run, newest first. */
    public synchronized Listing list() {
        List<Entry> out = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        List<Integer> numbers;
        try {
            numbers = numbers();
        } catch (IOException e) {
            return new Listing(List.of(), List.of(dir + ": cannot be listed (" + e.getMessage() + ")"));
        }
        for (int k = numbers.size() - 1; k >= 0; k--) {
            int n = numbers.get(k);
            try {
                out.add(new Entry(n, RunRecord.load(dir.resolve(String.format("%04d", n)))));
            } catch (IOException e) {
                problems.add(e.getMessage());
            }
        }
        return new Listing(List.copyOf(out), List.copyOf(problems));
    }

    /** Run numbers present, ascending. */
    private List<Integer> numbers() throws IOException {
        List<Integer> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (Stream<Path> s = Files.list(dir)) {
            s.map(p -> p.getFileName().toString()).filter(n -> n.matches("\\d{4,}"))
                    .map(Integer::parseInt).sorted(Comparator.naturalOrder()).forEach(out::add);
        }
        return out;
    }
}
