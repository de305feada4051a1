package org.persephonee.core.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.backbone.InputSpec;
import org.persephonee.core.backbone.SampleBackbones;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Images and persona folders made to hurt: bombs, truncated files, symbolic links, odd encodings. */
class HostileImportTest {
    @TempDir
    Path tmp;

    private static final InputSpec RAW = new InputSpec(1, 28, 28, new float[] {0f}, new float[] {1f});

    private static BufferedImage noise(int w, int h, long seed) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Random r = new Random(seed);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, r.nextInt(0xffffff));
            }
        }
        return img;
    }

    private static Path write(BufferedImage img, String format, Path file) throws IOException {
        Files.createDirectories(file.getParent());
        assertTrue(ImageIO.write(img, format, file.toFile()), "no writer for " + format);
        return file;
    }

    private static void chunk(DataOutputStream out, String type, byte[] data) throws IOException {
        out.writeInt(data.length);
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.write(t);
        out.write(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.writeInt((int) crc.getValue());
    }

    /**
     * An 8-bit greyscale PNG of {@code w x h} zeros, deflated row by row: a few hundred kilobytes that would
     * decode to {@code w * h} bytes. With {@code header only}, the image data is left out.
     */
    static byte[] zeroPng(int w, int h, boolean headerOnly) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a});
        ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(ihdr);
        d.writeInt(w);
        d.writeInt(h);
        d.write(new byte[] {8, 0, 0, 0, 0});
        chunk(out, "IHDR", ihdr.toByteArray());
        if (!headerOnly) {
            Deflater def = new Deflater(9);
            ByteArrayOutputStream idat = new ByteArrayOutputStream();
            byte[] row = new byte[w + 1];
            byte[] buf = new byte[1 << 16];
            for (int y = 0; y < h; y++) {
                def.setInput(row);
                while (!def.needsInput()) {
                    int n = def.deflate(buf);
                    idat.write(buf, 0, n);
                }
            }
            def.finish();
            while (!def.finished()) {
                int n = def.deflate(buf);
                idat.write(buf, 0, n);
            }
            def.end();
            chunk(out, "IDAT", idat.toByteArray());
        }
        chunk(out, "IEND", new byte[0]);
        return bytes.toByteArray();
    }

    @Test
    void aDecompressionBombIsRefusedFromItsHeaderNamingTheFile() throws Exception {
        Path headerOnly = tmp.resolve("header-only.png");
        Files.write(headerOnly, zeroPng(30000, 30000, true));
        Path bomb = tmp.resolve("bomb.png");
        Files.write(bomb, zeroPng(12000, 10000, false));   // 120 megapixels of zeros in ~120 KB
        assertTrue(Files.size(bomb) < 1_000_000, "the bomb should be small on disk: " + Files.size(bomb));
        for (Path f : List.of(headerOnly, bomb)) {
            long before = usedHeap();
            ImageDecodeException e = assertThrows(ImageDecodeException.class, () -> ImageDecoder.decode(f, RAW));
            assertTrue(e.getMessage().startsWith(f.toString() + ": too large:"), e.getMessage());
            assertTrue(e.getMessage().contains("megapixels"), e.getMessage());
            // refused before any pixel buffer exists: far less than the 120-900 MB the pixels would take
            assertTrue(usedHeap() - before < 64L << 20, "heap grew by " + (usedHeap() - before));
        }
    }

    private static long usedHeap() {
        Runtime rt = Runtime.getRuntime();
        return rt.totalMemory() - rt.freeMemory();
    }

    @Test
    void aLargeButLegalPhotoIsDecodedSubsampledWithBoundedMemory() throws Exception {
        Path big = tmp.resolve("big.png");
        Files.write(big, zeroPng(6000, 4000, false));   // 24 megapixels: allowed, decoded at every 2nd pixel
        BufferedImage img = ImageDecoder.read(big);
        assertEquals(3000, img.getWidth());
        assertEquals(2000, img.getHeight());
        float[] x = ImageDecoder.decode(big, RAW);
        assertEquals(0f, x[RAW.size() / 2]);
        String old = System.getProperty("persephonee.maxImagePixels");
        System.setProperty("persephonee.maxImagePixels", "1000000");
        try {
            ImageDecodeException e = assertThrows(ImageDecodeException.class, () -> ImageDecoder.read(big));
            assertTrue(e.getMessage().contains("the limit is 1"), e.getMessage());
        } finally {
            if (old == null) {
                System.clearProperty("persephonee.maxImagePixels");
            } else {
                System.setProperty("persephonee.maxImagePixels", old);
            }
        }
    }

    @Test
    void aTruncatedJpegIsRefusedNotFilledWithGrey() throws Exception {
        Path full = write(noise(96, 96, 1), "jpg", tmp.resolve("full.jpg"));
        byte[] bytes = Files.readAllBytes(full);
        Path half = tmp.resolve("half.jpg");
        Files.write(half, Arrays.copyOf(bytes, bytes.length / 2));
        ImageDecoder.decode(full, RAW);
        ImageDecodeException e = assertThrows(ImageDecodeException.class, () -> ImageDecoder.decode(half, RAW));
        assertTrue(e.getMessage().startsWith(half + ": truncated"), e.getMessage());
        ImageImporter.Result r = new ImageImporter(new LabelSpace(List.of()), RAW).importPaths(List.of(half, full),
                null, () -> false);
        assertEquals(1, r.dataset().size());
        assertEquals(half.toAbsolutePath(), r.skipped().get(0).path());
    }

    @Test
    void symbolicLinksAreFollowedInsideTheFolderAndReportedOtherwise() throws Exception {
        Path root = tmp.resolve("persona");
        Path outside = tmp.resolve("elsewhere");
        BufferedImage img = noise(28, 28, 2);
        write(img, "png", root.resolve("labelled/bag/1.png"));
        write(img, "png", root.resolve("extra/shirt/2.png"));
        write(img, "png", outside.resolve("sneaker/3.png"));
        write(img, "png", outside.resolve("loose.png"));
        Files.createDirectories(root.resolve("unlabelled"));
        Files.createDirectories(root.resolve("test"));
        write(img, "png", root.resolve("test/dress/t.png"));
        // a class folder linked from inside the persona: followed
        Files.createSymbolicLink(root.resolve("labelled/shirt"), root.resolve("extra/shirt"));
        // a class folder linked from outside: reported
        Files.createSymbolicLink(root.resolve("labelled/sneaker"), outside.resolve("sneaker"));
        // an unlabelled link to an image already imported: imported once
        Files.createSymbolicLink(root.resolve("unlabelled/again.png"), root.resolve("labelled/bag/1.png"));
        // an unlabelled link to a test image: must not leak the test image into training
        Files.createSymbolicLink(root.resolve("unlabelled/leak.png"), root.resolve("test/dress/t.png"));
        // a file outside, and a dangling link
        Files.createSymbolicLink(root.resolve("unlabelled/outside.png"), outside.resolve("loose.png"));
        Files.createSymbolicLink(root.resolve("unlabelled/dangling.png"), tmp.resolve("gone.png"));
        Files.writeString(root.resolve("labels.csv"), "path,label\nunlabelled/outside.png,bag\n");
        ImageImporter.Result r = new ImageImporter(new LabelSpace(SampleBackbones.FASHION_MNIST_CLASSES), RAW)
                .importFolder(root, null, () -> false);
        PersonalDataset ds = r.dataset();
        assertEquals(Map.of("Bag", 1, "Shirt", 1), ds.countsByClass(PersonalImage.Split.TRAIN), ds.images().toString());
        assertEquals(Map.of("Dress", 1), ds.countsByClass(PersonalImage.Split.TEST));
        assertEquals(0, ds.unlabelled().size(), ds.images().toString());
        Map<String, String> skipped = r.skipped().stream().collect(Collectors.toMap(
                s -> root.relativize(s.path()).toString(), SkippedFile::reason, (a, b) -> a + " | " + b));
        assertTrue(skipped.get("labelled/sneaker").contains("outside the imported folder"), skipped.toString());
        assertTrue(skipped.get("unlabelled/outside.png").contains("outside the imported folder"), skipped.toString());
        assertTrue(skipped.get("unlabelled/dangling.png").startsWith("broken symbolic link"), skipped.toString());
        assertTrue(skipped.get("unlabelled/again.png").startsWith("same file as"), skipped.toString());
        assertTrue(skipped.get("unlabelled/leak.png").startsWith("same file as"), skipped.toString());
        assertTrue(skipped.get("labels.csv").contains("line 2"), skipped.toString());
        assertFalse(ds.images().stream().anyMatch(i -> i.path().toString().contains("elsewhere")));
        assertTrue(r.notes().stream().anyMatch(n -> n.contains("followed")), r.notes().toString());
    }

    @Test
    void labelsCsvInLatin1OrWithAByteOrderMarkIsRead() throws Exception {
        Path root = tmp.resolve("persona");
        BufferedImage img = noise(28, 28, 3);
        write(img, "png", root.resolve("unlabelled/a.png"));
        write(img, "png", root.resolve("unlabelled/b.png"));
        byte[] latin1 = "path,label\nunlabelled/a.png,Café\nunlabelled/b.png,bag\n".getBytes(StandardCharsets.ISO_8859_1);
        Files.write(root.resolve("labels.csv"), latin1);
        ImageImporter.Result r = new ImageImporter(new LabelSpace(SampleBackbones.FASHION_MNIST_CLASSES), RAW)
                .importFolder(root, null, () -> false);
        assertEquals(Map.of("Café", 1, "Bag", 1), r.dataset().countsByClass(PersonalImage.Split.TRAIN));
        assertTrue(r.notes().stream().anyMatch(n -> n.contains("not valid UTF-8")), r.notes().toString());

        byte[] text = "path,label\nunlabelled/a.png,dress\n".getBytes(StandardCharsets.UTF_8);
        byte[] bom = new byte[text.length + 3];
        bom[0] = (byte) 0xEF;
        bom[1] = (byte) 0xBB;
        bom[2] = (byte) 0xBF;
        System.arraycopy(text, 0, bom, 3, text.length);
        Files.write(root.resolve("labels.csv"), bom);
        r = new ImageImporter(new LabelSpace(SampleBackbones.FASHION_MNIST_CLASSES), RAW)
                .importFolder(root, null, () -> false);
        assertEquals(Map.of("Dress", 1), r.dataset().countsByClass(PersonalImage.Split.TRAIN));
        assertTrue(r.skipped().isEmpty(), r.skipped().toString());
        assertTrue(r.notes().isEmpty(), r.notes().toString());
    }
}
