"""The append-only audit log: who did what to which post and revision, when, and why."""
