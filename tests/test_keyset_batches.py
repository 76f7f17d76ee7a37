"""``app.db.keyset_batches``: a table read N rows at a time by key, as exports and vector checks read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.db import keyset_batches


@pytest.mark.parametrize("count, size", [(0, 3), (1, 3), (5, 3), (6, 3), (7, 1)])
def test_every_row_once_in_key_order_in_batches_of_size(
    session: Session, make_user: Callable[..., Any], count: int, size: int
) -> None:
    before = set(session.scalars(select(User.id)))
    made = [make_user(email=f"k{i}@example.org").id for i in range(count)]
    wanted = sorted(before | set(made))
    stmt = select(User.id, User.email).where(User.id.in_(wanted))

    batches = list(keyset_batches(session, stmt, User.id, size=size))

    assert [row.id for batch in batches for row in batch] == wanted
    assert all(len(batch) == size for batch in batches[:-1])
    assert all(0 < len(batch) <= size for batch in batches)


def test_a_filter_on_the_statement_is_kept_across_batches(
    session: Session, make_user: Callable[..., Any]
) -> None:
    ids = [make_user(email=f"{'even' if i % 2 == 0 else 'odd'}{i}@example.org").id for i in range(7)]
    stmt = select(User.id).where(User.email.like("even%"))

    seen = [row.id for batch in keyset_batches(session, stmt, User.id, size=2) for row in batch]

    assert seen == ids[0::2]
