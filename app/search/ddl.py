"""The full-text index's DDL and its one vector expression, shared by migration 0015 and the queries.

The PostgreSQL query must use exactly the indexed expression for the GIN index to serve it, so both
take ``PG_VECTOR`` from here. The SQLite FTS5 table and the PostgreSQL index are not in the ORM's
metadata (neither is expressible there); ``include_name`` keeps schema comparison off them.
"""

from __future__ import annotations

PG_CONFIG = "english"

PG_VECTOR = (
    f"(setweight(to_tsvector('{PG_CONFIG}'::regconfig, title), 'A') || "
    f"setweight(to_tsvector('{PG_CONFIG}'::regconfig, topics), 'B') || "
    f"setweight(to_tsvector('{PG_CONFIG}'::regconfig, authors), 'C') || "
    f"setweight(to_tsvector('{PG_CONFIG}'::regconfig, body), 'D'))"
)

PG_INDEX = "ix_search_documents_fts"
FTS_TABLE = "search_fts"
_COLUMNS = "title, body, topics, authors"


def create_index_ddl(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [f"CREATE INDEX {PG_INDEX} ON search_documents USING gin ({PG_VECTOR})"]
    old = ", ".join(f"old.{c}" for c in _COLUMNS.split(", "))
    new = ", ".join(f"new.{c}" for c in _COLUMNS.split(", "))
    delete = f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_COLUMNS}) VALUES ('delete', old.post_id, {old});"
    insert = f"INSERT INTO {FTS_TABLE}(rowid, {_COLUMNS}) VALUES (new.post_id, {new});"
    return [
        f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5({_COLUMNS}, content='search_documents', "
        "content_rowid='post_id', tokenize='porter unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN {insert} END",
        f"CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN {delete} END",
        f"CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN {delete} {insert} END",
    ]


def drop_index_ddl(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [f"DROP INDEX IF EXISTS {PG_INDEX}"]
    return [
        *(f"DROP TRIGGER IF EXISTS search_documents_{t}" for t in ("ai", "ad", "au")),
        f"DROP TABLE IF EXISTS {FTS_TABLE}",
    ]


# Staff search matches ``lower(title)`` / ``lower(body)`` of each post's newest revision with LIKE
# '%needle%'; on PostgreSQL these trigram indexes (pg_trgm, migration 0029) serve exactly those
# expressions, so the query must lower the columns the same way. SQLite has no such index: it scans.
TRGM_INDEXES = {
    "ix_post_revisions_trgm_title": "lower(title)",
    "ix_post_revisions_trgm_body": "lower(body)",
}
TRGM_PREFIX = "ix_post_revisions_trgm_"


def create_trigram_ddl(dialect: str) -> list[str]:
    if dialect != "postgresql":
        return []
    return [
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        *(
            f"CREATE INDEX IF NOT EXISTS {name} ON post_revisions USING gin (({expression}) gin_trgm_ops)"
            for name, expression in TRGM_INDEXES.items()
        ),
    ]


def drop_trigram_ddl(dialect: str) -> list[str]:
    """The indexes only: the extension may serve others (and dropping it needs more than ownership)."""
    if dialect != "postgresql":
        return []
    return [f"DROP INDEX IF EXISTS {name}" for name in TRGM_INDEXES]


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's filter: the full-text and trigram indexes and FTS5's tables are the migrations', not
    the models'."""
    return not (name or "").startswith((FTS_TABLE, PG_INDEX, TRGM_PREFIX))
