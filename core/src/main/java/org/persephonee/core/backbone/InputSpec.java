package org.persephonee.core.backbone;

import java.util.Arrays;

/**
 * What a backbone expects as input: channel count, spatial size, how images are fitted to it and
 * per-channel normalisation.
 *
 * <p>Decoded images are fitted to {@code height x width} by the {@link Resize} rule, converted to
 * {@code channels} channels (1 = luminance, 3 = RGB), scaled to [0, 1], then normalised as
 * {@code (x - mean[c]) / std[c]}.
 */
public final class InputSpec {
    /** How an image of another size is fitted to the input. */
    public enum Resize {
        /** Scale the whole image to fit, keep its aspect ratio, pad with its border colour. */
        PAD("pad"),
        /** Scale the shorter side to {@code resizeTo}, then cut the centre (torchvision Resize + CenterCrop). */
        CENTER_CROP("center-crop");

        private final String id;

        Resize(String id) { this.id = id; }

        public String id() { return id; }

        /** Parses {@code pad} or {@code center-crop} (null means pad). */
        public static Resize parse(String s) {
            if (s == null || s.isBlank()) {
                return PAD;
            }
            for (Resize r : values()) {
                if (r.id.equalsIgnoreCase(s.trim()) || r.name().equalsIgnoreCase(s.trim())) {
                    return r;
                }
            }
            throw new IllegalArgumentException("input 'resize' must be 'pad' or 'center-crop', got '" + s + "'");
        }
    }

    private final int channels;
    private final int height;
    private final int width;
    private final float[] mean;
    private final float[] std;
    private final Resize resize;
    private final int resizeTo;

    /** Creates an input spec that pads images to fit. */
    /** Largest input side accepted: bigger would be refused by the memory of a desktop long before training. */
    public static final int MAX_SIDE = 1024;

    public InputSpec(int channels, int height, int width, float[] mean, float[] std) {
        this(channels, height, width, mean, std, Resize.PAD, 0);
    }

    /**
     * Creates an input spec.
     *
     * @param mean non-null, one value per channel
     * @param std non-null, one positive value per channel
     * @param resize null means {@link Resize#PAD}
     * @param resizeTo for {@link Resize#CENTER_CROP}, the shorter side before cropping (at least the larger
     *     of height and width; 0 means the input's own size)
     */
    public InputSpec(int channels, int height, int width, float[] mean, float[] std, Resize resize, int resizeTo) {
        if (channels != 1 && channels != 3) {
            throw new IllegalArgumentException("input channels must be 1 or 3, got " + channels);
        }
        if (height <= 0 || width <= 0) {
            throw new IllegalArgumentException("input height and width must be positive, got " + height + "x" + width);
        }
        if (height > MAX_SIDE || width > MAX_SIDE) {
            throw new IllegalArgumentException("input " + height + "x" + width + " is larger than this lab handles ("
                    + MAX_SIDE + "x" + MAX_SIDE + " at most: it personalises on a CPU, a pixel at a time per exit)");
        }
        if (resizeTo < 0 || resizeTo > 2 * MAX_SIDE) {
            throw new IllegalArgumentException("input 'resizeTo' " + resizeTo + " must be between 0 and " + 2 * MAX_SIDE);
        }
        if (mean == null || std == null || mean.length != channels || std.length != channels) {
            throw new IllegalArgumentException("input mean and std need one value per channel (" + channels + ")");
        }
        for (float s : std) {
            if (!(s > 0)) {
                throw new IllegalArgumentException("input std must be positive, got " + Arrays.toString(std));
            }
        }
        this.channels = channels;
        this.height = height;
        this.width = width;
        this.mean = mean.clone();
        this.std = std.clone();
        this.resize = resize == null ? Resize.PAD : resize;
        int side = Math.max(height, width);
        if (this.resize == Resize.CENTER_CROP && resizeTo != 0 && resizeTo < side) {
            throw new IllegalArgumentException("input 'resizeTo' " + resizeTo + " is smaller than the input ("
                    + height + "x" + width + ")");
        }
        this.resizeTo = this.resize == Resize.CENTER_CROP ? (resizeTo == 0 ? side : resizeTo) : 0;
    }

    public Resize resize() { return resize; }

    /** Shorter side before the centre crop, or 0 when padding. */
    public int resizeTo() { return resizeTo; }

    public int channels() { return channels; }

    public int height() { return height; }

    public int width() { return width; }

    public float[] mean() { return mean.clone(); }

    public float[] std() { return std.clone(); }

    /** Shape of one example, {@code (C, H, W)}. */
    public long[] shape() { return new long[] {channels, height, width}; }

    /** Number of floats in one example. */
    public int size() { return channels * height * width; }

    /** Normalises {@code [0,1]} pixel values in CHW order in place. */
    public void normalise(float[] chw, int offset) {
        int plane = height * width;
        for (int c = 0; c < channels; c++) {
            float m = mean[c];
            float inv = 1f / std[c];
            int base = offset + c * plane;
            for (int i = 0; i < plane; i++) {
                chw[base + i] = (chw[base + i] - m) * inv;
            }
        }
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof InputSpec)) {
            return false;
        }
        InputSpec s = (InputSpec) o;
        return channels == s.channels && height == s.height && width == s.width
                && Arrays.equals(mean, s.mean) && Arrays.equals(std, s.std) && resize == s.resize
                && resizeTo == s.resizeTo;
    }

    @Override
    public int hashCode() {
        return 31 * (31 * (31 * channels + height) + width) + Arrays.hashCode(mean);
    }

    @Override
    public String toString() {
        return channels + "x" + height + "x" + width + " mean=" + Arrays.toString(mean) + " std=" + Arrays.toString(std)
                + (resize == Resize.CENTER_CROP ? " resize " + resizeTo + " + centre crop" : "");
    }
}
