package org.persephonee.core.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.persephonee.core.backbone.InputSpec;
import org.persephonee.core.backbone.SampleBackbones;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImageImportTest {
    @TempDir
    Path tmp;

    private static final InputSpec RAW = new InputSpec(1, 28, 28, new float[] {0f}, new float[] {1f});

    private static BufferedImage square(int type, int w, int h, Color bg, Color fg) {
        BufferedImage img = new BufferedImage(w, h, type);
        Graphics2D g = img.createGraphics();
        g.setColor(bg);
        g.fillRect(0, 0, w, h);
        g.setColor(fg);
        g.fillRect(w / 4, h / 4, w / 2, h / 2);
        g.dispose();
        return img;
    }

    private static Path write(BufferedImage img, String format, Path file) throws IOException {
        Files.createDirectories(file.getParent());
        assertTrue(ImageIO.write(img, format, file.toFile()), "no writer for " + format);
        return file;
    }

    @Test
    void centreCropRuleCutsTheMiddleLikeTorchvision() {
        // 300x100: black sides, a red 100x100 square in the middle
        BufferedImage img = new BufferedImage(300, 100, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.RED);
        g.fillRect(100, 0, 100, 100);
        g.dispose();
        InputSpec crop = new InputSpec(3, 20, 20, new float[] {0, 0, 0}, new float[] {1, 1, 1},
                InputSpec.Resize.CENTER_CROP, 20);
        float[] out = new float[crop.size()];
        ImageDecoder.toInput(img, crop, out, 0);
        for (int i = 0; i < 400; i++) {
            assertEquals(1f, out[i], 1e-4, "red plane is all red after the centre crop");
            assertEquals(0f, out[400 + i], 1e-4, "green plane is empty");
        }
        // resize to 40 on the shorter side, then the centre 20x20: still inside the red square
        InputSpec wider = new InputSpec(3, 20, 20, new float[] {0, 0, 0}, new float[] {1, 1, 1},
                InputSpec.Resize.CENTER_CROP, 40);
        ImageDecoder.toInput(img, wider, out, 0);
        assertEquals(1f, out[0], 1e-4);
        // the pad rule keeps the black sides instead
        InputSpec pad = new InputSpec(3, 20, 20, new float[] {0, 0, 0}, new float[] {1, 1, 1});
        ImageDecoder.toInput(img, pad, out, 0);
        assertEquals(0f, out[10 * 20 + 1], 1e-4, "left side is black when the whole image is fitted");
        assertThrows(IllegalArgumentException.class, () -> new InputSpec(3, 20, 20, new float[] {0, 0, 0},
                new float[] {1, 1, 1}, InputSpec.Resize.CENTER_CROP, 10));
    }

    @Test
    void decodesOddFormatsBitDepthsAndColourModels() throws Exception {
        Path d = tmp.resolve("odd");
        // 16-bit grayscale PNG
        BufferedImage g16 = new BufferedImage(40, 40, BufferedImage.TYPE_USHORT_GRAY);
        for (int y = 0; y < 40; y++) {
            for (int x = 0; x < 40; x++) {
                g16.getRaster().setSample(x, y, 0, (x >= 10 && x < 30 && y >= 10 && y < 30) ? 65535 : 0);
            }
        }
        write(g16, "png", d.resolve("gray16.png"));
        write(square(BufferedImage.TYPE_INT_RGB, 300, 300, Color.BLACK, Color.WHITE), "jpg", d.resolve("big.jpg"));
        write(square(BufferedImage.TYPE_3BYTE_BGR, 28, 28, Color.BLACK, Color.WHITE), "bmp", d.resolve("bgr.bmp"));
        byte[] r = {0, (byte) 255};
        BufferedImage pal = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_INDEXED, new IndexColorModel(1, 2, r, r, r));
        Graphics2D g = pal.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(7, 7, 14, 14);
        g.dispose();
        write(pal, "gif", d.resolve("palette.gif"));
        write(square(BufferedImage.TYPE_BYTE_BINARY, 56, 56, Color.BLACK, Color.WHITE), "png", d.resolve("1bit.png"));
        write(square(BufferedImage.TYPE_INT_ARGB, 20, 20, new Color(0, 0, 0, 0), Color.WHITE), "png",
                d.resolve("alpha.png"));
        for (String f : List.of("gray16.png", "big.jpg", "bgr.bmp", "palette.gif", "1bit.png", "alpha.png")) {
            float[] x = ImageDecoder.decode(d.resolve(f), RAW);
            assertEquals(784, x.length);
            // decoded from the bytes already read (the decode cache keys them), the same floats to the bit
            assertTrue(Arrays.equals(x, ImageDecoder.decode(d.resolve(f), Files.readAllBytes(d.resolve(f)), RAW)), f);
            // centre is bright, corner is dark, whatever the source format
            assertTrue(x[14 * 28 + 14] > 0.9f, f + " centre " + x[14 * 28 + 14]);
            assertTrue(x[1 * 28 + 1] < 0.1f, f + " corner " + x[28 + 1]);
        }
    }

    @Test
    void aGreyValueDecodesTheSameFromGreyscaleRgbAndPaletteFiles() throws Exception {
        Path d = tmp.resolve("grey64");
        BufferedImage g8 = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
        BufferedImage g16 = new BufferedImage(28, 28, BufferedImage.TYPE_USHORT_GRAY);
        BufferedImage rgb = new BufferedImage(28, 28, BufferedImage.TYPE_INT_RGB);
        byte[] lut = new byte[256];
        for (int i = 0; i < 256; i++) {
            lut[i] = (byte) i;
        }
        BufferedImage pal = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_INDEXED,
                new IndexColorModel(8, 256, lut, lut, lut));
        for (int y = 0; y < 28; y++) {
            for (int x = 0; x < 28; x++) {
                g8.getRaster().setSample(x, y, 0, 64);
                g16.getRaster().setSample(x, y, 0, 64 * 257);
                rgb.setRGB(x, y, 0x404040);
                pal.getRaster().setSample(x, y, 0, 64);
            }
        }
        write(g8, "png", d.resolve("grey8.png"));
        write(g8, "jpg", d.resolve("grey8.jpg"));
        write(g16, "png", d.resolve("grey16.png"));
        write(rgb, "png", d.resolve("rgb.png"));
        write(pal, "png", d.resolve("palette.png"));
        InputSpec rgbSpec = new InputSpec(3, 28, 28, new float[] {0, 0, 0}, new float[] {1, 1, 1});
        for (String f : List.of("grey8.png", "grey8.jpg", "grey16.png", "rgb.png", "palette.png")) {
            // stored 64 is 64/255 (getRGB made 137/255 of a greyscale file), for a grey and a colour backbone
            assertEquals(64 / 255f, ImageDecoder.decode(d.resolve(f), RAW)[14 * 28 + 14], 1.5f / 255, f);
            float[] c = ImageDecoder.decode(d.resolve(f), rgbSpec);
            for (int ch = 0; ch < 3; ch++) {
                assertEquals(64 / 255f, c[ch * 784 + 14 * 28 + 14], 1.5f / 255, f + " channel " + ch);
            }
        }
    }

    @Test
    void colourIsConvertedToLumaAndNormalised() throws Exception {
        Path f = write(square(BufferedImage.TYPE_INT_RGB, 28, 28, Color.BLACK, new Color(255, 0, 0)), "png",
                tmp.resolve("red.png"));
        InputSpec spec = new InputSpec(1, 28, 28, new float[] {0.25f}, new float[] {0.5f});
        float[] x = ImageDecoder.decode(f, spec);
        assertEquals((0.299f - 0.25f) / 0.5f, x[14 * 28 + 14], 1e-3f);
        assertEquals((0f - 0.25f) / 0.5f, x[0], 1e-6f);
        InputSpec rgb = new InputSpec(3, 28, 28, new float[] {0, 0, 0}, new float[] {1, 1, 1});
        float[] c = ImageDecoder.decode(f, rgb);
        assertEquals(1f, c[14 * 28 + 14], 1e-6f);
        assertEquals(0f, c[784 + 14 * 28 + 14], 1e-6f);
    }

    @Test
    void wideImagesKeepTheirAspectRatioAndArePaddedWithTheirBorderColour() throws Exception {
        // 280x140 gray background with a white disc-like square in the middle
        Path f = write(square(BufferedImage.TYPE_INT_RGB, 280, 140, new Color(51, 51, 51), Color.WHITE), "png",
                tmp.resolve("wide.png"));
        float[] x = ImageDecoder.decode(f, RAW);
        // the image fills rows 7..20; rows above and below are padding in the border's gray
        assertEquals(0.2f, x[0], 0.01f);
        assertEquals(0.2f, x[27 * 28 + 27], 0.01f);
        assertTrue(x[14 * 28 + 14] > 0.95f);
    }

    @Test
    void corruptEmptyAndNonImageFilesAreSkippedAndNamed() throws Exception {
        Path root = tmp.resolve("persona");
        Path cls = root.resolve("labelled").resolve("sneaker");
        write(square(BufferedImage.TYPE_BYTE_GRAY, 28, 28, Color.BLACK, Color.WHITE), "png", cls.resolve("good.png"));
        byte[] png = Files.readAllBytes(cls.resolve("good.png"));
        Files.write(cls.resolve("truncated.png"), Arrays.copyOf(png, png.length / 3));
        Files.write(cls.resolve("noise.jpg"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
        Files.write(cls.resolve("empty.png"), new byte[0]);
        Files.writeString(cls.resolve("notes.txt"), "not an image");
        Files.writeString(cls.resolve(".DS_Store"), "finder junk");
        ImageImporter.Result r = new ImageImporter(new LabelSpace(SampleBackbones.FASHION_MNIST_CLASSES), RAW)
                .importFolder(root, null, () -> false);
        assertEquals(1, r.dataset().size());
        assertEquals("Sneaker", r.dataset().images().get(0).label());
        Map<String, String> skipped = r.skipped().stream()
                .collect(Collectors.toMap(s -> s.path().getFileName().toString(), SkippedFile::reason));
        assertEquals(List.of("empty.png", "noise.jpg", "notes.txt", "truncated.png"),
                skipped.keySet().stream().sorted().toList());
        assertEquals("empty file", skipped.get("empty.png"));
        assertTrue(skipped.get("notes.txt").startsWith("not an image file"), skipped.get("notes.txt"));
        assertTrue(skipped.get("noise.jpg").contains("not an image") || skipped.get("noise.jpg").contains("corrupt"),
                skipped.get("noise.jpg"));
        assertTrue(skipped.get("truncated.png").contains("corrupt"), skipped.get("truncated.png"));
        ImageDecodeException e = assertThrows(ImageDecodeException.class,
                () -> ImageDecoder.decode(cls.resolve("truncated.png"), RAW));
        assertTrue(e.getMessage().startsWith(cls.resolve("truncated.png").toString()), e.getMessage());
    }

    @Test
    void classFolderNamesMatchBackboneClassesIgnoringCaseSpacesAndPunctuation() throws Exception {
        Path root = tmp.resolve("plain");
        BufferedImage img = square(BufferedImage.TYPE_BYTE_GRAY, 28, 28, Color.BLACK, Color.WHITE);
        for (String folder : List.of("ankle_boot", "T-SHIRT top", "t-shirt_top", "Hat", "hat ")) {
            write(img, "png", root.resolve(folder).resolve("a.png"));
        }
        write(img, "png", root.resolve("loose.png"));
        LabelSpace labels = new LabelSpace(SampleBackbones.FASHION_MNIST_CLASSES);
        ImageImporter.Result r = new ImageImporter(labels, RAW).importFolder(root, null, () -> false);
        Map<String, Integer> counts = r.dataset().countsByClass(PersonalImage.Split.TRAIN);
        assertEquals(Map.of("Ankle boot", 1, "T-shirt/top", 2, "Hat", 2), counts);
        assertEquals(1, r.dataset().unlabelled().size());
        assertEquals("loose.png", r.dataset().unlabelled().get(0).path().getFileName().toString());
        assertEquals(11, labels.size());
        assertTrue(labels.isNew(labels.indexOf("hat")));
        assertEquals(9, labels.indexOf("ANKLE-BOOT"));
        assertTrue(r.skipped().isEmpty(), r.skipped().toString());
    }

    @Test
    void personaLayoutAndLabelsCsv() throws Exception {
        Path root = tmp.resolve("persona");
        BufferedImage img = square(BufferedImage.TYPE_BYTE_GRAY, 28, 28, Color.BLACK, Color.WHITE);
        write(img, "png", root.resolve("labelled/bag/1.png"));
        write(img, "png", root.resolve("labelled/bag/nested/2.png"));
        write(img, "png", root.resolve("unlabelled/u1.png"));
        write(img, "png", root.resolve("unlabelled/u2.png"));
        write(img, "png", root.resolve("test/trouser/t1.png"));
        write(img, "png", root.resolve("stray/x.png"));
        Files.writeString(root.resolve("labels.csv"), "path,label\nunlabelled/u2.png,dress\nmissing.png,bag\nbad line\n");
        Files.writeString(root.resolve("README.md"), "# my photos");
        ImageImporter.Result r = new ImageImporter(new LabelSpace(SampleBackbones.FASHION_MNIST_CLASSES), RAW)
                .importFolder(root, null, () -> false);
        PersonalDataset ds = r.dataset();
        assertEquals(Map.of("Bag", 2, "Dress", 1), ds.countsByClass(PersonalImage.Split.TRAIN));
        assertEquals(Map.of("Trouser", 1), ds.countsByClass(PersonalImage.Split.TEST));
        assertEquals(1, ds.unlabelled().size());
        List<String> reasons = r.skipped().stream().map(SkippedFile::toString).toList();
        assertEquals(3, reasons.size(), reasons.toString());
        assertTrue(reasons.stream().anyMatch(s -> s.contains("stray") && s.contains("folder ignored")), reasons.toString());
        assertTrue(reasons.stream().anyMatch(s -> s.contains("labels.csv: line 3: no image 'missing.png'")),
                reasons.toString());
        assertTrue(reasons.stream().anyMatch(s -> s.contains("labels.csv: line 4: expected 'path,label'")),
                reasons.toString());
    }

    @Test
    void droppedFilesAreUnlabelledAndAMissingRootIsAnError() throws Exception {
        BufferedImage img = square(BufferedImage.TYPE_BYTE_GRAY, 28, 28, Color.BLACK, Color.WHITE);
        Path a = write(img, "png", tmp.resolve("coat/a.png"));
        ImageImporter imp = new ImageImporter(new LabelSpace(SampleBackbones.FASHION_MNIST_CLASSES), null);
        ImageImporter.Result r = imp.importPaths(List.of(a, tmp.resolve("gone.png")), null, () -> false);
        assertEquals(1, r.dataset().unlabelled().size());
        assertEquals("no such file or folder", r.skipped().get(0).reason());
        assertThrows(java.nio.file.NoSuchFileException.class,
                () -> imp.importFolder(tmp.resolve("nowhere"), null, () -> false));
    }

    @Test
    void classNameKeys() {
        assertEquals("ankleboot", ClassNames.key("Ankle boot"));
        assertTrue(ClassNames.same("t-shirt_top", "T-shirt/top"));
        assertTrue(ClassNames.same(" SNEAKER ", "Sneaker"));
    }
}
