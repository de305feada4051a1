package org.persephonee.core.data;

import org.persephonee.core.backbone.InputSpec;

import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Decodes image files of any size, bit depth or colour model (PNG, JPEG, BMP, GIF, WBMP via Java's
 * ImageIO) and converts them to a backbone's {@link InputSpec}.
 *
 * <p>Conversion: transparent pixels are composited onto black (Fashion-MNIST's background); with the
 * {@code pad} rule the image is scaled to fit {@code height x width} keeping its aspect ratio (area
 * averaging when shrinking, bilinear when enlarging) and centred on a canvas filled with the median colour
 * of its border, so padding blends in; with {@code center-crop} its shorter side is scaled to
 * {@code resizeTo} and the centre {@code height x width} is cut out (torchvision's Resize + CenterCrop);
 * grayscale uses Rec. 601 luma; values are scaled to [0, 1] and normalised with the spec's mean/std.
 */
public final class ImageDecoder {
    /** File extensions treated as images when scanning folders. */
    public static final Set<String> EXTENSIONS = Set.of("png", "jpg", "jpeg", "bmp", "gif", "wbmp", "jpe", "jfif");

    /** Largest image accepted, in pixels, unless {@code -Dpersephonee.maxImagePixels} says otherwise. */
    public static final long DEFAULT_MAX_PIXELS = 100_000_000L;

    /**
     * Images with more pixels than this are decoded with source subsampling (every n-th row and column), so
     * the decoded copy stays below about 16 megapixels (64 MB) whatever the photo; every backbone input is far
     * smaller, so no detail that reaches the network is lost.
     */
    static final long SUBSAMPLE_ABOVE_PIXELS = 16_000_000L;

    private ImageDecoder() { }

    /** The pixel cap checked against an image's header before anything is allocated. */
    public static long maxPixels() {
        String v = System.getProperty("persephonee.maxImagePixels");
        if (v != null) {
            try {
                long n = Long.parseLong(v.strip());
                if (n > 0) {
                    return n;
                }
            } catch (NumberFormatException ignored) {
                // fall through to the default
            }
        }
        return DEFAULT_MAX_PIXELS;
    }

    /** The subsampling step for an image of this size (1 = every pixel). */
    static int subsampling(long w, long h) {
        int step = 1;
        while ((w / step) * (h / step) > SUBSAMPLE_ABOVE_PIXELS) {
            step++;
        }
        return step;
    }

    /** True when the file name has an image extension. */
    public static boolean looksLikeImage(Path p) {
        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
        int dot = n.lastIndexOf('.');
        return dot > 0 && EXTENSIONS.contains(n.substring(dot + 1));
    }

    /**
     * Reads an image file.
     *
     * @param file non-null
     * @throws ImageDecodeException naming the file and the problem (not found, empty, not an image, corrupt)
     */
    public static BufferedImage read(Path file) throws ImageDecodeException {
        return read(file, null);
    }

    /**
     * Reads an image from {@code bytes} already read from {@code file} (null: from the file), so a caller that keyed
     * them (a cache) decodes exactly what it keyed; {@code file} names it in messages.
     */
    static BufferedImage read(Path file, byte[] bytes) throws ImageDecodeException {
        if (bytes == null && !Files.isRegularFile(file)) {
            throw new ImageDecodeException(file, "not found");
        }
        try {
            if ((bytes == null ? Files.size(file) : bytes.length) == 0) {
                throw new ImageDecodeException(file, "empty file");
            }
        } catch (IOException e) {
            throw new ImageDecodeException(file, "cannot be read (" + e.getMessage() + ")");
        }
        try (ImageInputStream in = bytes == null ? ImageIO.createImageInputStream(file.toFile())
                : new javax.imageio.stream.MemoryCacheImageInputStream(new java.io.ByteArrayInputStream(bytes))) {
            if (in == null) {
                throw new ImageDecodeException(file, "cannot be opened");
            }
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new ImageDecodeException(file, "not an image in a supported format (PNG, JPEG, BMP, GIF, WBMP)");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                long w = reader.getWidth(0);
                long h = reader.getHeight(0);
                if (w <= 0 || h <= 0) {
                    throw new ImageDecodeException(file, "has no pixels");
                }
                long cap = maxPixels();
                if (w * h > cap) {
                    throw new ImageDecodeException(file, String.format(Locale.ROOT,
                            "too large: %d x %d pixels (%.0f megapixels; the limit is %.0f, set by "
                                    + "-Dpersephonee.maxImagePixels)", w, h, w * h / 1e6, cap / 1e6));
                }
                List<String> warnings = new ArrayList<>();
                reader.addIIOReadWarningListener((src, warning) -> warnings.add(warning));
                ImageReadParam param = reader.getDefaultReadParam();
                int step = subsampling(w, h);
                if (step > 1) {
                    param.setSourceSubsampling(step, step, 0, 0);
                }
                BufferedImage img = reader.read(0, param);
                if (img == null || img.getWidth() <= 0 || img.getHeight() <= 0) {
                    throw new ImageDecodeException(file, "has no pixels");
                }
                for (String warning : warnings) {
                    String lw = warning.toLowerCase(Locale.ROOT);
                    if (lw.contains("premature end") || lw.contains("truncat")) {
                        throw new ImageDecodeException(file, "truncated (" + warning.strip() + ")");
                    }
                }
                return img;
            } finally {
                reader.dispose();
            }
        } catch (ImageDecodeException e) {
            throw e;
        } catch (OutOfMemoryError e) {
            throw new ImageDecodeException(file, "too large to decode in the memory this program may use");
        } catch (IOException | RuntimeException e) {
            String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            throw new ImageDecodeException(file, "corrupt or unsupported image (" + msg + ")");
        }
    }

    /**
     * Decodes a file into normalised CHW floats for the given input spec.
     *
     * @return a new array of {@code spec.size()} floats
     */
    public static float[] decode(Path file, InputSpec spec) throws ImageDecodeException {
        return decode(file, null, spec);
    }

    /** {@link #decode(Path, InputSpec)} of {@code bytes} already read from {@code file} (null: from the file). */
    public static float[] decode(Path file, byte[] bytes, InputSpec spec) throws ImageDecodeException {
        float[] out = new float[spec.size()];
        toInput(read(file, bytes), spec, out, 0);
        spec.normalise(out, 0);
        return out;
    }

    /**
     * Converts an image to {@code [0,1]} CHW floats of the spec's size and channel count (not normalised).
     *
     * @param img non-null image of any type
     * @param out destination with room for {@code spec.size()} floats at {@code offset}
     */
    /**
     * The stored values of a greyscale image (8 or 16 bits, with or without alpha) in [0, 1], alpha-composited
     * over black, or {@code null} for colour and palette images. {@code getRGB} would treat the grey values as
     * linear and convert them to sRGB (a stored 64 became 137), unlike the raw bytes pretraining reads and the
     * same photo saved as RGB.
     */
    static float[] greySamples(BufferedImage img) {
        java.awt.image.ColorModel cm = img.getColorModel();
        if (cm instanceof java.awt.image.IndexColorModel
                || cm.getColorSpace().getType() != java.awt.color.ColorSpace.TYPE_GRAY) {
            return null;
        }
        java.awt.image.Raster r = img.getRaster();
        int bands = r.getNumBands();
        if (bands < 1 || bands > 2) {
            return null;
        }
        int w = img.getWidth();
        int h = img.getHeight();
        double max = (1L << cm.getComponentSize(0)) - 1;
        double maxA = bands == 2 ? (1L << cm.getComponentSize(1)) - 1 : 1;
        float[] out = new float[w * h];
        int[] g = r.getSamples(0, 0, w, h, 0, (int[]) null);
        int[] a = bands == 2 ? r.getSamples(0, 0, w, h, 1, (int[]) null) : null;
        for (int i = 0; i < out.length; i++) {
            double v = g[i] / max;
            if (a != null) {
                v *= a[i] / maxA;
            }
            out[i] = (float) v;
        }
        return out;
    }

    public static void toInput(BufferedImage img, InputSpec spec, float[] out, int offset) {
        int w = img.getWidth();
        int h = img.getHeight();
        int channels = spec.channels();
        float[][] planes = new float[channels][w * h];
        float[] grey = greySamples(img);
        if (grey != null) {
            for (int c = 0; c < channels; c++) {
                planes[c] = c == 0 ? grey : grey.clone();
            }
        }
        int[] argb = grey != null ? new int[0] : img.getRGB(0, 0, w, h, null, 0, w);
        for (int i = 0; i < argb.length; i++) {
            int p = argb[i];
            float a = ((p >>> 24) & 0xff) / 255f;
            float r = ((p >> 16) & 0xff) / 255f * a;
            float g = ((p >> 8) & 0xff) / 255f * a;
            float b = (p & 0xff) / 255f * a;
            if (channels == 1) {
                planes[0][i] = 0.299f * r + 0.587f * g + 0.114f * b;
            } else {
                planes[0][i] = r;
                planes[1][i] = g;
                planes[2][i] = b;
            }
        }
        int th = spec.height();
        int tw = spec.width();
        if (spec.resize() == InputSpec.Resize.CENTER_CROP) {
            double scale = spec.resizeTo() / (double) Math.min(w, h);
            int sh = Math.max(th, (int) Math.round(h * scale));
            int sw = Math.max(tw, (int) Math.round(w * scale));
            int y0 = (sh - th) / 2;
            int x0 = (sw - tw) / 2;
            for (int c = 0; c < channels; c++) {
                float[] scaled = resize(planes[c], w, h, sw, sh);
                int base = offset + c * th * tw;
                for (int y = 0; y < th; y++) {
                    System.arraycopy(scaled, (y + y0) * sw + x0, out, base + y * tw, tw);
                }
            }
            return;
        }
        double scale = Math.min(th / (double) h, tw / (double) w);
        int sh = Math.max(1, (int) Math.round(h * scale));
        int sw = Math.max(1, (int) Math.round(w * scale));
        int y0 = (th - sh) / 2;
        int x0 = (tw - sw) / 2;
        for (int c = 0; c < channels; c++) {
            float[] scaled = resize(planes[c], w, h, sw, sh);
            float fill = (sh == th && sw == tw) ? 0f : borderMedian(planes[c], w, h);
            int base = offset + c * th * tw;
            for (int y = 0; y < th; y++) {
                for (int x = 0; x < tw; x++) {
                    int sy = y - y0;
                    int sx = x - x0;
                    out[base + y * tw + x] = (sy >= 0 && sy < sh && sx >= 0 && sx < sw) ? scaled[sy * sw + sx] : fill;
                }
            }
        }
    }

    /** Resizes a plane: area averaging when shrinking an axis, bilinear interpolation when enlarging it. */
    static float[] resize(float[] src, int w, int h, int nw, int nh) {
        if (w == nw && h == nh) {
            return src.clone();
        }
        float[] tmp = resizeAxis(src, w, h, nw, true);
        return resizeAxis(tmp, nw, h, nh, false);
    }

    private static float[] resizeAxis(float[] src, int w, int h, int n, boolean horizontal) {
        int len = horizontal ? w : h;
        int other = horizontal ? h : w;
        int ow = horizontal ? n : w;
        float[] dst = new float[horizontal ? n * h : w * n];
        if (n == len) {
            return src.clone();
        }
        double ratio = len / (double) n;
        for (int o = 0; o < other; o++) {
            for (int i = 0; i < n; i++) {
                double v;
                if (n < len) {
                    double start = i * ratio;
                    double end = start + ratio;
                    double sum = 0;
                    for (int k = (int) Math.floor(start); k < Math.min(len, (int) Math.ceil(end)); k++) {
                        double overlap = Math.min(end, k + 1) - Math.max(start, k);
                        if (overlap > 0) {
                            sum += overlap * at(src, w, horizontal, o, k);
                        }
                    }
                    v = sum / ratio;
                } else {
                    double pos = (i + 0.5) * ratio - 0.5;
                    int k0 = (int) Math.floor(pos);
                    double t = pos - k0;
                    int a = Math.max(0, Math.min(len - 1, k0));
                    int b = Math.max(0, Math.min(len - 1, k0 + 1));
                    v = (1 - t) * at(src, w, horizontal, o, a) + t * at(src, w, horizontal, o, b);
                }
                if (horizontal) {
                    dst[o * ow + i] = (float) v;
                } else {
                    dst[i * ow + o] = (float) v;
                }
            }
        }
        return dst;
    }

    private static float at(float[] src, int w, boolean horizontal, int o, int k) {
        return horizontal ? src[o * w + k] : src[k * w + o];
    }

    private static float borderMedian(float[] p, int w, int h) {
        int n = h == 1 || w == 1 ? w * h : 2 * w + 2 * (h - 2);
        float[] border = new float[n];
        int k = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                if (y == 0 || y == h - 1 || x == 0 || x == w - 1) {
                    if (k < n) {
                        border[k++] = p[y * w + x];
                    }
                }
            }
        }
        java.util.Arrays.sort(border, 0, k);
        return k == 0 ? 0f : border[k / 2];
    }
}
