"""Posts and their append-only revisions."""
