"""Transparent corrections: what changed between two published revisions, shown inline."""
