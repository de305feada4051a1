package org.persephonee.core.data;

/** Small image operations on single-channel float planes, used to simulate capture shifts. */
final class ShiftOps {
    private ShiftOps() { }

    /** Separable Gaussian blur with edge clamping. */
    static float[] gaussianBlur(float[] src, int w, int h, double sigma) {
        int r = Math.max(1, (int) Math.ceil(3 * sigma));
        double[] k = new double[2 * r + 1];
        double sum = 0;
        for (int i = -r; i <= r; i++) {
            k[i + r] = Math.exp(-i * i / (2 * sigma * sigma));
            sum += k[i + r];
        }
        for (int i = 0; i < k.length; i++) {
            k[i] /= sum;
        }
        float[] tmp = new float[src.length];
        float[] out = new float[src.length];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                double v = 0;
                for (int i = -r; i <= r; i++) {
                    v += k[i + r] * src[y * w + Math.max(0, Math.min(w - 1, x + i))];
                }
                tmp[y * w + x] = (float) v;
            }
        }
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                double v = 0;
                for (int i = -r; i <= r; i++) {
                    v += k[i + r] * tmp[Math.max(0, Math.min(h - 1, y + i)) * w + x];
                }
                out[y * w + x] = (float) v;
            }
        }
        return out;
    }

    /**
     * Renders {@code src} (w x h) into a {@code size x size} plane rotated by {@code angle} radians about the
     * centre, scaled by {@code scale} and shifted by (dx, dy) output pixels; bilinear, zero outside.
     */
    static float[] affine(float[] src, int w, int h, int size, double angle, double scale, double dx, double dy) {
        float[] out = new float[size * size];
        double cos = Math.cos(angle);
        double sin = Math.sin(angle);
        double cx = (size - 1) / 2.0 + dx;
        double cy = (size - 1) / 2.0 + dy;
        double sx0 = (w - 1) / 2.0;
        double sy0 = (h - 1) / 2.0;
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                double ux = (x - cx) / scale;
                double uy = (y - cy) / scale;
                double sx = cos * ux + sin * uy + sx0;
                double sy = -sin * ux + cos * uy + sy0;
                out[y * size + x] = bilinear(src, w, h, sx, sy);
            }
        }
        return out;
    }

    private static float bilinear(float[] src, int w, int h, double x, double y) {
        int x0 = (int) Math.floor(x);
        int y0 = (int) Math.floor(y);
        double tx = x - x0;
        double ty = y - y0;
        double v = 0;
        for (int j = 0; j <= 1; j++) {
            for (int i = 0; i <= 1; i++) {
                int xx = x0 + i;
                int yy = y0 + j;
                if (xx >= 0 && xx < w && yy >= 0 && yy < h) {
                    v += (i == 0 ? 1 - tx : tx) * (j == 0 ? 1 - ty : ty) * src[yy * w + xx];
                }
            }
        }
        return (float) v;
    }
}
