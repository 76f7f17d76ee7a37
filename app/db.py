"""Database foundations: the declarative base, shared column types, engine and session factories.

No Flask here. SQLite gets foreign keys and WAL on every connection; datetimes are always aware UTC,
whatever the backend stores.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    MetaData,
    Row,
    Select,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns aware UTC; refuses naive datetimes rather than guessing their zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class AppendOnly:
    """Marks a model whose rows are history: inserted once, never updated or deleted.

    This is the ORM half; each such table also gets database triggers (``append_only_ddl``) so that not
    even a raw SQL statement can rewrite it.
    """


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_history(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in session.dirty:
        if isinstance(obj, AppendOnly) and session.is_modified(obj, include_collections=False):
            raise RuntimeError(f"{type(obj).__name__} rows are append-only and cannot be changed")
    for obj in session.deleted:
        if isinstance(obj, AppendOnly):
            raise RuntimeError(f"{type(obj).__name__} rows are append-only and cannot be deleted")


class ReaderVisible:
    """Marks a model whose rows readers see on a post's pages (a publication, a retraction, a comment).

    Writing one increments that post's ``version``, which every reader-page cache keys on: the one rule
    by which a visible change invalidates what shows it (see ``app.posts.models``). Subclasses have a
    ``post_id`` column.
    """

    post_id: Any

    def changes_what_readers_see(self) -> bool:
        """Whether writing this row (new, or as modified in this flush) changes a reader's page."""
        return True


intpk = Annotated[int, mapped_column(primary_key=True)]
str80 = Annotated[str, mapped_column(String(80))]
str200 = Annotated[str, mapped_column(String(200))]
str320 = Annotated[str, mapped_column(String(320))]
text = Annotated[str, mapped_column(Text)]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    # Deleted and overwritten content is zeroed in the file, not left in free space: a redaction
    # (app.redaction) must leave no copy of what it removed.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """Take SQLite's write lock at BEGIN when the caller said it will write (see ``writing``).

    SQLite has no row locks. A deferred transaction that read first and writes second fails at once
    with "database is locked" when another writer committed in between (the busy timeout does not
    apply to that upgrade). ``BEGIN IMMEDIATE`` makes a second writer wait its turn and then read what
    the first one wrote, which is what ``SELECT ... FOR UPDATE`` gives on PostgreSQL. Other transactions
    keep pysqlite's own behaviour (reads see the latest commit; BEGIN is sent before the first write).
    """
    dbapi_connection = conn.connection.dbapi_connection
    options = conn.get_execution_options()
    if options.get(WRITE_OPTION, False):
        dbapi_connection.isolation_level = None  # pysqlite must not send a BEGIN of its own
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif options.get(SNAPSHOT_OPTION, False):
        # A deferred BEGIN: the first read fixes the WAL snapshot, which later reads keep until the end.
        dbapi_connection.isolation_level = None
        conn.exec_driver_sql("BEGIN")
    else:
        dbapi_connection.isolation_level = ""


def make_engine(url: str, *, explicit_begin: bool = False, **kwargs: Any) -> Engine:
    """Create an engine with Candor's per-backend settings.

    ``explicit_begin`` (the application's engine; not migrations, which switch SQLite's foreign keys off
    outside any transaction) lets a session ask for SQLite's write lock up front: see ``writing``.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        if explicit_begin:
            event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


class Prepared:
    """A Core statement compiled once for one dialect and run on the driver's own cursor, in the
    transaction of the session given: for the few statements a hot path runs on every request (a
    reader's comment), where SQLAlchemy's per-execution work (the compiled cache's lookup, the
    execution context, the result's metadata) costs more than the database's. Parameters and result
    columns go through the statement's own types' processors, as SQLAlchemy would apply them (UTC
    datetimes, JSON), so the rows read and written are the same. ``one_or_none`` returns a named row
    (``Prepared.Row``) or None."""

    def __init__(self, statement: Any, dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        self._dialect = dialect
        self._compiled = compiled
        self.sql = str(compiled)
        self._binds = [
            (key, processor)
            for key, bind in compiled.binds.items()
            if (processor := bind.type._cached_bind_processor(dialect)) is not None
        ]
        columns = list(getattr(statement, "selected_columns", None) or statement._returning)
        self._results = [
            (n, processor)
            for n, column in enumerate(columns)
            if (processor := column.type._cached_result_processor(dialect, None)) is not None
        ]
        self.Row = collections.namedtuple("Row", [column.key for column in columns])  # type: ignore[misc]

    def one_or_none(self, on: Session | Any, params: dict[str, Any]) -> Any:
        """Run in the transaction of ``on``: a Session, or a driver connection (``app.web.intake``)."""
        values = self._compiled.construct_params(params)
        for key, processor in self._binds:
            if key in values:
                values[key] = processor(values[key])
        driver = on.connection().connection.driver_connection if isinstance(on, Session) else on
        cursor = driver.cursor()
        error_class = self._dialect.loaded_dbapi.Error
        try:
            cursor.execute(self.sql, values)
            row = cursor.fetchone()
        except error_class as error:  # as SQLAlchemy raises it: the edge answers 409/503, never a 500
            raise DBAPIError.instance(
                self.sql, values, error, error_class, hide_parameters=True, dialect=self._dialect
            ) from error
        finally:
            cursor.close()
        if row is None:
            return None
        row = list(row)
        for n, processor in self._results:
            row[n] = processor(row[n])
        return self.Row(*row)


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


WRITE_OPTION = "candor_write"
SNAPSHOT_OPTION = "candor_snapshot"
_ON_COMMIT = "candor.on_commit"


def writing(session: Session) -> Session:
    """Open ``session``'s transaction as a writer: on SQLite, with the database's write lock taken first.

    Call before the first statement of a unit of work that reads in order to decide a write (a request
    that changes something, a CLI command, a scheduled job). On PostgreSQL it changes nothing; there the
    services lock the rows they change with ``SELECT ... FOR UPDATE``.
    """
    if not session.in_transaction():
        session.connection(execution_options={WRITE_OPTION: True})
    return session


def snapshot(session: Session) -> Session:
    """Open ``session``'s transaction as a reader of one consistent state of the whole database.

    For work that reads a great deal in many statements and must not see a commit land half-way (an
    export): REPEATABLE READ, read only, on PostgreSQL; on SQLite an explicit BEGIN, so the first read's
    WAL snapshot holds for the rest (pysqlite alone sends no BEGIN before a SELECT). Writers carry on.
    """
    if not session.in_transaction():
        if session.get_bind().dialect.name == "sqlite":
            session.connection(execution_options={SNAPSHOT_OPTION: True})
        else:
            session.connection(
                execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
            )
    return session


def on_commit(session: Session, work: Callable[[], None]) -> None:
    """Run ``work`` once the session's transaction has committed; forget it if it rolls back.

    For what must follow a commit and never precede it: sending e-mail, telling Akismet, purging a
    cache. The unit of work's edge (the web request, a CLI command) commits through ``commit`` below,
    which runs these in order. Zulip's ``transaction.on_commit`` is the model.
    """
    session.info.setdefault(_ON_COMMIT, []).append(work)


def commit(session: Session) -> None:
    """Commit, then run the work registered with ``on_commit``. A failure there is logged, not raised:
    what was committed stays committed, and every such job has a retry path of its own (outbox, queue).
    """
    session.commit()
    pending = session.info.pop(_ON_COMMIT, [])
    for work in pending:
        try:
            work()
        except Exception:  # noqa: BLE001 - the commit already happened; the job's own retry takes over
            log.exception("after-commit work %r failed", work)


def rollback(session: Session) -> None:
    session.info.pop(_ON_COMMIT, None)
    session.rollback()


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_commit_work(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction, not a savepoint
        session.info.pop(_ON_COMMIT, None)


def keyset_batches(
    session: Session, stmt: Select[Any], key: ColumnElement[Any], *, size: int
) -> Iterator[list[Row[Any]]]:
    """The rows of ``stmt`` in ``key`` order, ``size`` at a time. Each batch starts after the last key
    of the one before (keyset, not OFFSET), so every batch is one index range however deep it lies, and
    only a batch is in memory. ``key`` must be unique and among ``stmt``'s columns."""
    last: Any = None
    while True:
        page = stmt if last is None else stmt.where(key > last)
        rows = list(session.execute(page.order_by(key).limit(size)).all())
        if rows:
            yield rows
        if len(rows) < size:
            return
        last = rows[-1]._mapping[key]


def append_only_ddl(dialect: str, table: str) -> list[str]:
    """DDL that makes ``table`` refuse UPDATE and DELETE (and TRUNCATE) in the database itself.

    Migrations call this for every history table: revisions, publications, disclosures, moderation
    decisions, audit entries. The ORM refuses too, but only the database can stop a raw statement.
    """
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    return [
        "CREATE OR REPLACE FUNCTION candor_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION candor_refuse_change()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION candor_refuse_change()",
    ]


def drop_append_only_ddl(dialect: str, table: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_no_{verb}" for verb in ("update", "delete")]
    return [
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
    ]
