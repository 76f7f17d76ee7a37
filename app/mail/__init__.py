"""Outgoing e-mail through an outbox: every message is stored first, then sent by SMTP with retries."""
