package org.persephonee.core.export;

import org.persephonee.core.util.AtomicFiles;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.persephonee.core.export.BundleWriter.CONFIG;
import static org.persephonee.core.export.BundleWriter.PID;

/**
 * A bundle folder checked and locked for writing ({@link BundleWriter#checkTarget}); close it when done (the lock
 * is released and its file removed; parent folders the check created are removed again if nothing was
 * written).
 */
public final class BundleTarget implements AutoCloseable {
    /** Lock files held by this process (a second channel on the same file would drop the lock when closed). */
    private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

    private final Path path;
    private final Path lockFile;
    private final FileChannel channel;
    private final FileLock lock;
    private final List<Path> createdDirs;
    private final List<String> notes = new ArrayList<>();
    volatile boolean published;
    private boolean closed;

    private BundleTarget(Path path, Path lockFile, FileChannel channel, FileLock lock, List<Path> createdDirs) {
        this.path = path;
        this.lockFile = lockFile;
        this.channel = channel;
        this.lock = lock;
        this.createdDirs = createdDirs;
    }

    /** The bundle folder (absolute). */
    public Path path() { return path; }

    /** What was repaired after an interrupted earlier run, one line each (empty when nothing was). */
    public List<String> notes() { return List.copyOf(notes); }

    void checkOpen() {
        if (closed || !lock.isValid()) {
            throw new IllegalStateException(path + ": the bundle target is no longer locked");
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            // removed while still locked: a run that opened this file meanwhile sees it gone and retries
            Files.deleteIfExists(lockFile);
        } catch (IOException e) {
            // left behind: harmless, the lock is what counts
        }
        try {
            lock.release();
        } catch (IOException e) {
            // closing the channel releases it too
        }
        try {
            channel.close();
        } catch (IOException e) {
            // nothing more to do
        }
        HELD.remove(lockFile);
        if (!published) {
            removeIfEmpty(createdDirs);
        }
    }

    /**
     * Checks that {@code out} may receive a bundle and locks it for this run; call it before any long work.
     * Refuses (with an {@link IOException} whose message names the folder and the reason) a path that is a
     * file, a folder that is not a bundle (see the class comment), and a folder another run is writing
     * ({@code "X: another run is writing this bundle (pid N)"}). Under the lock, repairs what an interrupted
     * earlier run left next to the folder and reports it in {@link BundleTarget#notes()}.
     */
    static BundleTarget check(Path out) throws IOException {
        Path target = out.toAbsolutePath().normalize();
        if (target.getParent() == null || target.getFileName() == null) {
            throw new IOException(target + ": cannot hold a bundle");
        }
        BundleContents.refuseUnlessReplaceable(target);
        List<Path> created = createDirectories(target.getParent());
        BundleTarget t;
        try {
            t = lock(target, created);
        } catch (IOException | RuntimeException e) {
            removeIfEmpty(created);
            throw e;
        }
        try {
            BundleContents.refuseUnlessReplaceable(target);
            t.notes.addAll(recover(target));
            return t;
        } catch (IOException | RuntimeException e) {
            t.close();
            throw e;
        }
    }

    private static BundleTarget lock(Path target, List<Path> created) throws IOException {
        Path lockFile = target.getParent().toRealPath().resolve("." + target.getFileName() + ".lock");
        if (!HELD.add(lockFile)) {
            throw busy(target, PID);
        }
        try {
            for (int attempt = 0; attempt < 50; attempt++) {
                boolean existed = Files.exists(lockFile, LinkOption.NOFOLLOW_LINKS);
                Object before = fileKey(lockFile);
                FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.READ,
                        StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
                FileLock lk = null;
                try {
                    try {
                        lk = ch.tryLock();
                    } catch (OverlappingFileLockException e) {
                        lk = null;
                    }
                    if (lk == null) {
                        throw busy(target, readPid(ch));
                    }
                    // the holder removes the file before it unlocks: make sure the name still leads to the
                    // file locked here (a file made just now is checked on the next round)
                    Object after = fileKey(lockFile);
                    if (existed && Files.exists(lockFile, LinkOption.NOFOLLOW_LINKS)
                            && java.util.Objects.equals(before, after)) {
                        ch.truncate(0);
                        ch.write(ByteBuffer.wrap((PID + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
                        BundleTarget t = new BundleTarget(target, lockFile, ch, lk, created);
                        ch = null;
                        return t;
                    }
                } finally {
                    if (ch != null) {
                        if (lk != null) {
                            lk.release();
                        }
                        ch.close();
                    }
                }
            }
            throw new IOException(lockFile + ": could not be locked (it keeps being replaced)");
        } catch (IOException | RuntimeException e) {
            HELD.remove(lockFile);
            throw e;
        }
    }

    private static IOException busy(Path target, long pid) {
        return new IOException(target + ": another run is writing this bundle" + (pid > 0 ? " (pid " + pid + ")" : ""));
    }

    private static long readPid(FileChannel ch) {
        try {
            ByteBuffer b = ByteBuffer.allocate(32);
            ch.read(b, 0);
            return Long.parseLong(new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII).trim());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    private static Object fileKey(Path p) {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    /** Creates {@code dir} and its missing parents; returns the ones it created, outermost first. */
    private static List<Path> createDirectories(Path dir) throws IOException {
        List<Path> missing = new ArrayList<>();
        for (Path p = dir; p != null && !Files.exists(p); p = p.getParent()) {
            missing.add(0, p);
        }
        Files.createDirectories(dir);
        return missing;
    }

    private static void removeIfEmpty(List<Path> dirs) {
        for (int i = dirs.size() - 1; i >= 0; i--) {
            try {
                Files.deleteIfExists(dirs.get(i));
            } catch (IOException e) {
                return; // not empty (someone put something there) or not ours to remove
            }
        }
    }

    /**
     * Repairs what interrupted runs left next to {@code target} (the caller holds its lock and has checked
     * that it is missing, empty or a bundle). Returns one note per repair.
     */
    private static List<String> recover(Path target) throws IOException {
        Path parent = target.getParent();
        String q = Pattern.quote(target.getFileName().toString());
        Pattern tmpNow = Pattern.compile("\\." + q + "\\.tmp-(\\d+)-\\d+");
        Pattern tmpBefore = Pattern.compile("\\." + q + "-\\d+");
        Pattern oldNow = Pattern.compile("\\." + q + "\\.old-(\\d+)-\\d+");
        Pattern oldBefore = Pattern.compile("\\." + q + "\\.old-\\d+");
        List<Path> temps = new ArrayList<>();
        List<Path> olds = new ArrayList<>();
        try (Stream<Path> s = Files.list(parent)) {
            for (Path p : s.sorted().toList()) {
                String n = p.getFileName().toString();
                if (!n.startsWith(".") || !Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                Matcher m;
                if ((m = tmpNow.matcher(n)).matches()) {
                    if (!liveOwner(m.group(1), p)) {
                        temps.add(p);
                    }
                } else if ((m = oldNow.matcher(n)).matches()) {
                    if (!liveOwner(m.group(1), p)) {
                        olds.add(p);
                    }
                } else if (tmpBefore.matcher(n).matches()) {
                    temps.add(p);
                } else if (oldBefore.matcher(n).matches()) {
                    olds.add(p);
                }
            }
        }
        List<String> notes = new ArrayList<>();
        boolean missing = !Files.exists(target, LinkOption.NOFOLLOW_LINKS)
                || Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS) && isEmpty(target);
        if (missing) {
            Path best = null;
            FileTime bestTime = null;
            for (Path o : olds) {
                if (BundleContents.complete(o)) {
                    FileTime ft = Files.getLastModifiedTime(o.resolve(CONFIG));
                    if (best == null || ft.compareTo(bestTime) > 0) {
                        best = o;
                        bestTime = ft;
                    }
                }
            }
            if (best != null) {
                Files.deleteIfExists(target);
                Files.move(best, target);
                olds.remove(best);
                notes.add(target + ": restored the earlier bundle from " + best.getFileName()
                        + ", where an interrupted run had moved it aside");
            }
        }
        for (Path o : olds) {
            long size = size(o);
            org.persephonee.core.util.FileTrees.delete(o);
            notes.add(target + ": removed " + o.getFileName() + " (" + mb(size)
                    + "), an earlier bundle an interrupted run had moved aside");
        }
        for (Path t : temps) {
            long size = size(t);
            org.persephonee.core.util.FileTrees.delete(t);
            notes.add(target + ": removed " + t.getFileName() + " (" + mb(size)
                    + "), an unfinished bundle left by an interrupted run");
        }
        return notes;
    }

    /** True when the folder is named after a running process other than this one (it may be in use). */
    private static boolean liveOwner(String pid, Path p) {
        try {
            long id = Long.parseLong(pid);
            return id != PID && AtomicFiles.ownerAlive(id, Files.getLastModifiedTime(p).toInstant());
        } catch (NumberFormatException | IOException e) {
            return true;
        }
    }

    private static long size(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    return 0;
                }
            }).sum();
        } catch (IOException | java.io.UncheckedIOException e) {
            return 0;
        }
    }

    private static String mb(long bytes) {
        return String.format(Locale.ROOT, "%.1f MB", bytes / (1024.0 * 1024.0));
    }

    static boolean isEmpty(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }
}
