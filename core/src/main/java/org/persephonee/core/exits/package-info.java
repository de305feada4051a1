/**
 * Early-exit heads: their designs ({@link org.persephonee.core.exits.HeadSpec}: grid, linear, conv, MLP with
 * MACs and parameters), where they sit ({@link org.persephonee.core.exits.ExitPlacement}, whose {@code key()} is the
 * one name of an exit everywhere) and the trainable head itself ({@link org.persephonee.core.exits.ExitHead}).
 * Depends on backbone and engine.
 */
package org.persephonee.core.exits;
