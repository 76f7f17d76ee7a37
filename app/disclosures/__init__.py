"""Conflict-of-interest disclosures: versioned, never edited, and expiring."""
