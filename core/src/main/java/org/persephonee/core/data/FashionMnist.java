package org.persephonee.core.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Reads Fashion-MNIST from the IDX files of Debian's {@code dataset-fashion-mnist} package
 * ({@code /usr/share/datasets/fashion-mnist}, MIT licence), gzipped or not.
 *
 * @param images row-major 28x28 grayscale pixels, one array per image
 * @param labels class index 0-9 per image
 */
public record FashionMnist(byte[][] images, int[] labels) {

    /** Where Debian's dataset-fashion-mnist package puts the IDX files (a constant, for help texts). */
    public static final String DEBIAN_DIR_NAME = "/usr/share/datasets/fashion-mnist";
    /** Where Debian's package installs the files. */
    public static final Path DEBIAN_DIR = Path.of(DEBIAN_DIR_NAME);

    /** Which half of the data set. */
    public enum Split {
        TRAIN("train"), TEST("t10k");

        private final String prefix;

        Split(String prefix) { this.prefix = prefix; }
    }

    public int size() { return labels.length; }

    /**
     * Loads one split.
     *
     * @param dir folder holding {@code train-images-idx3-ubyte[.gz]} and friends; non-null
     * @throws IOException naming the missing or malformed file
     */
    public static FashionMnist load(Path dir, Split split) throws IOException {
        Path img = find(dir, split.prefix + "-images-idx3-ubyte");
        Path lab = find(dir, split.prefix + "-labels-idx1-ubyte");
        byte[][] images = readImages(img);
        int[] labels = readLabels(lab);
        if (images.length != labels.length) {
            throw new IOException(img + " has " + images.length + " images but " + lab + " has " + labels.length + " labels");
        }
        return new FashionMnist(images, labels);
    }

    private static Path find(Path dir, String base) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new NoSuchFileException(dir.toString(), null,
                    "not a folder (install Debian's dataset-fashion-mnist or point --data at the IDX files)");
        }
        for (String name : new String[] {base, base + ".gz"}) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        throw new NoSuchFileException(dir.resolve(base + ".gz").toString(), null, "IDX file not found");
    }

    private static DataInputStream open(Path p) throws IOException {
        InputStream in = new BufferedInputStream(Files.newInputStream(p), 1 << 16);
        if (p.getFileName().toString().endsWith(".gz")) {
            in = new GZIPInputStream(in, 1 << 16);
        }
        return new DataInputStream(in);
    }

    static byte[][] readImages(Path p) throws IOException {
        try (DataInputStream in = open(p)) {
            int magic = in.readInt();
            if (magic != 0x00000803) {
                throw new IOException(p + ": not an IDX image file (magic " + Integer.toHexString(magic) + ")");
            }
            int n = in.readInt();
            int rows = in.readInt();
            int cols = in.readInt();
            if (n < 0 || rows != 28 || cols != 28) {
                throw new IOException(p + ": expected 28x28 images, found " + n + " of " + rows + "x" + cols);
            }
            byte[][] out = new byte[n][rows * cols];
            for (int i = 0; i < n; i++) {
                in.readFully(out[i]);
            }
            return out;
        } catch (EOFException e) {
            throw new IOException(p + ": truncated IDX file", e);
        }
    }

    static int[] readLabels(Path p) throws IOException {
        try (DataInputStream in = open(p)) {
            int magic = in.readInt();
            if (magic != 0x00000801) {
                throw new IOException(p + ": not an IDX label file (magic " + Integer.toHexString(magic) + ")");
            }
            int n = in.readInt();
            byte[] raw = new byte[n];
            in.readFully(raw);
            int[] out = new int[n];
            for (int i = 0; i < n; i++) {
                out[i] = raw[i] & 0xff;
                if (out[i] > 9) {
                    throw new IOException(p + ": label " + out[i] + " at index " + i + " is out of range 0-9");
                }
            }
            return out;
        } catch (EOFException e) {
            throw new IOException(p + ": truncated IDX file", e);
        }
    }
}
