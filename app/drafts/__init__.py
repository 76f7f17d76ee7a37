"""Draft buffers: the editor's autosaved working copy, kept apart from revisions."""
