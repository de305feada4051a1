package org.persephonee.core.backbone;

import ai.djl.nn.Block;

/**
 * A stage of a loaded backbone: its DJL block and what it costs.
 *
 * @param index position in the backbone, from 0
 * @param name unique stage name
 * @param block the DJL block computing this stage from the previous stage's output
 * @param inputShape per-example input shape
 * @param outputShape per-example output shape (C, H, W)
 * @param macs multiply-accumulates of this stage for one example
 * @param cumulativeMacs MACs from the network input up to and including this stage
 * @param params trainable parameters of this stage
 * @param description compact layer description
 */
public record Stage(int index, String name, Block block, long[] inputShape, long[] outputShape, long macs,
                    long cumulativeMacs, long params, String description) {
}
