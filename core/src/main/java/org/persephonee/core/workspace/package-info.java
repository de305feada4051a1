/**
 * The lab's autosave: placed exits, imported folder, settings and the last run, written atomically and
 * restored at start ({@link org.persephonee.core.workspace.WorkspaceStore}). Holds no JavaFX: the views map it to their
 * model.
 */
package org.persephonee.core.workspace;
