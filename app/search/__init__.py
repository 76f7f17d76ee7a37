"""Full-text search over what readers can see, in the database's own engine (PostgreSQL, SQLite FTS5)."""
