package org.persephonee.core.data;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * A persona's capture shift applied to one Fashion-MNIST image and the file it is saved as: the night camera's
 * dim, blurred grayscale PNG or the tilted phone's rotated, tinted colour JPEG. The random draws are made in a
 * fixed order, so the same seed gives the same files.
 */
final class CaptureShifts {
    private CaptureShifts() { }

    /**
     * Writes {@code img} (28x28, values in [0,1]) into {@code dir} with the shift, as {@code base} plus the
     * shift's extension.
     *
     * @return the file name written
     */
    static String write(PersonaGenerator.Shift shift, float[] img, Random rnd, Path dir, String base)
            throws IOException {
        switch (shift) {
            case NIGHT_CAMERA -> {
                String name = base + ".png";
                Files.write(dir.resolve(name), png(gray(nightCamera(img, rnd), 28)));
                return name;
            }
            case TILTED_PHONE -> {
                String name = base + ".jpg";
                Files.write(dir.resolve(name), jpeg(tiltedPhone(img, rnd), 0.9f));
                return name;
            }
            default -> throw new IllegalStateException();
        }
    }

    /** Dim, blurred, low-contrast, grainy image with a vignette (values in [0,1]). */
    static float[] nightCamera(float[] img, Random rnd) {
        float[] b = ShiftOps.gaussianBlur(img, 28, 28, 0.5 + 0.4 * rnd.nextDouble());
        double gain = 0.35 + 0.15 * rnd.nextDouble();
        double floor = 0.08 + 0.06 * rnd.nextDouble();
        double noise = 0.03 + 0.02 * rnd.nextDouble();
        float[] out = new float[b.length];
        for (int y = 0; y < 28; y++) {
            for (int x = 0; x < 28; x++) {
                double dx = (x - 13.5) / 14.0;
                double dy = (y - 13.5) / 14.0;
                double vignette = 1 - 0.35 * (dx * dx + dy * dy);
                double v = floor + gain * b[y * 28 + x] * vignette + noise * rnd.nextGaussian();
                out[y * 28 + x] = (float) Math.max(0, Math.min(1, v));
            }
        }
        return out;
    }

    /** Rotated, zoomed, off-centre, warm-tinted 64x64 colour image. */
    static BufferedImage tiltedPhone(float[] img, Random rnd) {
        int size = 64;
        double angle = Math.toRadians((rnd.nextBoolean() ? 1 : -1) * (8 + 17 * rnd.nextDouble()));
        double zoom = 0.8 + 0.45 * rnd.nextDouble();
        double shiftX = (rnd.nextDouble() * 2 - 1) * 4;
        double shiftY = (rnd.nextDouble() * 2 - 1) * 4;
        float[] g = ShiftOps.affine(img, 28, 28, size, angle, zoom * size / 28.0, shiftX * size / 28.0,
                shiftY * size / 28.0);
        double bg = 0.06 + 0.06 * rnd.nextDouble();
        double brightness = 0.85 + 0.3 * rnd.nextDouble();
        BufferedImage out = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                double v = bg + (1 - bg) * g[y * size + x] * brightness + 0.02 * rnd.nextGaussian();
                int r = clamp255(v * 1.06 + 0.02);
                int gg = clamp255(v * 0.98);
                int b = clamp255(v * 0.86);
                out.setRGB(x, y, (r << 16) | (gg << 8) | b);
            }
        }
        return out;
    }

    private static int clamp255(double v) {
        return (int) Math.round(Math.max(0, Math.min(1, v)) * 255);
    }

    private static BufferedImage gray(float[] img, int size) {
        BufferedImage bi = new BufferedImage(size, size, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                bi.getRaster().setSample(x, y, 0, clamp255(img[y * size + x]));
            }
        }
        return bi;
    }

    private static byte[] png(BufferedImage bi) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        ImageIO.write(bi, "png", bos);
        return bos.toByteArray();
    }

    private static byte[] jpeg(BufferedImage bi, float quality) throws IOException {
        ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (ImageOutputStream ios = ImageIO.createImageOutputStream(bos)) {
            w.setOutput(ios);
            ImageWriteParam param = w.getDefaultWriteParam();
            param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
            param.setCompressionQuality(quality);
            w.write(null, new IIOImage(bi, null, null), param);
        } finally {
            w.dispose();
        }
        return bos.toByteArray();
    }
}
