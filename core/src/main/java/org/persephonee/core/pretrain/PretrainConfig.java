package org.persephonee.core.pretrain;

/**
 * Recipe for pretraining a sample backbone on Fashion-MNIST.
 *
 * @param seed seeds weight initialisation, shuffling and augmentation
 * @param epochs passes over the 60,000 training images
 * @param batchSize images per step
 * @param learningRate peak SGD learning rate (linear warm-up for one epoch, then cosine decay to 0)
 * @param momentum SGD momentum
 * @param weightDecay L2 weight decay
 * @param augment random 2-pixel shifts and horizontal flips
 * @param photometric also photometric jitter, as the MobileNetV2 sample's recipe: contrast x0.4-1.2 about mid-grey,
 *                    brightness +-0.175, a 3x3 binomial blur on 30 % of the images, Gaussian noise of a standard
 *                    deviation drawn up to 0.08; clamped to [0, 1]
 */
public record PretrainConfig(long seed, int epochs, int batchSize, float learningRate, float momentum,
                             float weightDecay, boolean augment, boolean photometric) {

    /** The recipe used for the committed sample backbone. */
    public static PretrainConfig defaults(long seed) {
        return new PretrainConfig(seed, 20, 128, 0.1f, 0.9f, 5e-4f, true, false);
    }

    public PretrainConfig withEpochs(int e) {
        return new PretrainConfig(seed, e, batchSize, learningRate, momentum, weightDecay, augment, photometric);
    }

    public PretrainConfig withPhotometric(boolean p) {
        return new PretrainConfig(seed, epochs, batchSize, learningRate, momentum, weightDecay, augment, p);
    }
}
