/**
 * The deep-learning engine on this machine: loading libtorch offline, the CPU self-check and the oneDNN cap
 * where its kernels compute wrong numbers ({@link org.persephonee.core.engine.EngineGuard}), thread policy and
 * affinity, finite checks on training ({@link org.persephonee.core.engine.NumericGuard}), the smoke test and the
 * doctor report. Depends on util only; every package that runs tensors goes through it.
 */
package org.persephonee.core.engine;
