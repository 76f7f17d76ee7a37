"""Redaction: replacing a patient identifier in stored history, the one narrow exception to "never
rewritten", recorded in an append-only ledger and checked by the database."""
