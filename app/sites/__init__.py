"""Approved external sites: the registry, its two-key decisions, and what counts as using a site."""
