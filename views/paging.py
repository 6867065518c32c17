"""A capped row count for the list pages: counting a large table on every page view costs a scan of it.

SQLAdmin's list counts `SELECT count(*) FROM (<the filtered list query>)` to draw its pagination. Here the
inner query loses its ORDER BY and gains a LIMIT, so at most `cap + 1` rows are read; when there are more,
the count is a `CappedCount`: one more than the cap (so «next page» stays enabled), printed as «более чем …»
in SQLAdmin's own footer («Показано 1–25 из более чем 10 000 элементов») with no template change.
"""

from __future__ import annotations

from sqlalchemy import Select, Subquery, func, literal_column, select

COUNT_CAP = 10_000
"""Rows counted at most before the footer says «более чем 10 000»."""

PAGES_AHEAD = 7
"""SQLAdmin links up to seven pages after the current one: the count reaches that far past a deep page."""


class CappedCount(int):
    """A row count known only to exceed `cap`: its value is cap + 1, its text «более чем <cap>»."""

    cap: int

    def __new__(cls, cap: int) -> CappedCount:
        count = super().__new__(cls, cap + 1)
        count.cap = cap
        return count

    def __str__(self) -> str:
        return f"более чем {self.cap:,}".replace(",", "\u00a0")

    __repr__ = __str__


def count_cap(page: int, page_size: int) -> int:
    """The cap for a page: COUNT_CAP, or far enough past a deep page to link the pages after it."""
    return max(COUNT_CAP, (max(page, 1) + PAGES_AHEAD) * page_size)


def capped_count_statement(count_statement: Select, cap: int) -> Select | None:
    """SQLAdmin's `SELECT count(*) FROM (<list query>)` rewritten to count at most cap + 1 rows of it;
    None when the statement is not of that shape (then it is run as it is).

    The shape is read from the statement's direct children (the count and the subquery), not from
    `get_final_froms()`, which builds a compile state: about a millisecond on every list page."""
    children = list(count_statement.get_children())
    subqueries = [child for child in children if isinstance(child, Subquery)]
    if len(children) != 2 or len(subqueries) != 1 or not isinstance(subqueries[0].element, Select):
        return None
    return limited_count(subqueries[0].element, cap)


def limited_count(rows: Select, cap: int | None = None) -> Select:
    """`SELECT count(*)` of at most cap + 1 of `rows` (COUNT_CAP by default): pass its result through `capped`.

    The rows are counted without their columns (`SELECT 1 … LIMIT cap + 1`, from the same tables): the
    database may then count them from an index alone, without reading each row. None of the lists is DISTINCT,
    the one kind of query whose row count depends on its columns."""
    cap = COUNT_CAP if cap is None else cap
    bare = rows.with_only_columns(literal_column("1"), maintain_column_froms=True).order_by(None).limit(cap + 1)
    return select(func.count()).select_from(bare.subquery())


def capped(count: int, cap: int | None = None) -> int:
    cap = COUNT_CAP if cap is None else cap
    return CappedCount(cap) if count > cap else count
