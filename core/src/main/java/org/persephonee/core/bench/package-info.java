/**
 * The benchmarks behind the README's tables: the sample bench ({@link org.persephonee.core.bench.SampleBench}:
 * generic backbone, exit-only, full fine-tuning and the gap rows per persona and label regime, with an independent
 * check on reserved images), the busy-machine bench and the plain-PyTorch peer. Uses every engine package; nothing
 * in core depends on it (the CLI parses and prints).
 */
package org.persephonee.core.bench;
