"""Percentiles computed by the database, on PostgreSQL and on SQLite alike.

PostgreSQL has ``percentile_cont``; SQLite has no percentile function at all. Rather than
fetch every duration into Python (a loop over leads), SQLite gets the same continuous
percentile from window functions: each value's row number and the count of its group, then
the two rows around the wanted position interpolated in SQL. Only one row per group comes
back. ``portable=True`` runs the window version on PostgreSQL too, which the tests use to
prove both give the same figures.

The source is any ORM queryset reduced with ``.values()`` to a group column and value
columns; its SQL is wrapped, never rewritten, so filters and tenancy stay the ORM's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import FloatField, Func, QuerySet

# Percentiles are given to the window version as integer thousandths: the position of the
# wanted row is then integer arithmetic, the same on every database (no FLOOR needed).
_SCALE = 1000


class EpochSeconds(Func):
    """Seconds since the epoch of a datetime expression, as a float, on both databases."""

    output_field = FloatField()
    template = "(julianday(%(expressions)s) * 86400.0)"  # SQLite stores datetimes as UTC text

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="CAST(EXTRACT(EPOCH FROM %(expressions)s) AS double precision)",
            **extra_context,
        )


@dataclass
class GroupStats:
    """The figures of one group: row count, sums of the flag columns, percentiles per column."""

    rows: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # non-null values per column
    percentiles: dict[tuple[str, float], float | None] = field(default_factory=dict)

    def pct(self, column: str, fraction: float) -> float | None:
        return self.percentiles.get((column, fraction))


def percentiles(
    source: QuerySet,
    *,
    columns: Sequence[str],
    fractions: Sequence[float],
    group: str | None = None,
    sums: Sequence[str] = (),
    portable: bool | None = None,
) -> dict[Any, GroupStats]:
    """For each group of ``source``: continuous percentiles of each column (NULLs ignored),
    the count of non-null values, and sums of the ``sums`` columns. One query."""
    sql, params = source.query.sql_with_params()
    if portable is None:
        portable = connection.vendor != "postgresql"
    build = _window_sql if portable else _postgres_sql
    query = build(sql, columns=list(columns), fractions=list(fractions), group=group, sums=list(sums))
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    return {row[0]: _group_stats(row, columns, fractions, sums) for row in rows}


def _group_stats(row: Sequence[Any], columns: Sequence[str], fractions: Sequence[float],
                 sums: Sequence[str]) -> GroupStats:
    values = iter(row[1:])
    stats = GroupStats(rows=int(next(values)))
    for name in sums:
        stats.sums[name] = float(next(values) or 0)
    for column in columns:
        stats.counts[column] = int(next(values) or 0)
        for fraction in fractions:
            value = next(values)
            stats.percentiles[(column, fraction)] = None if value is None else float(value)
    return stats


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _group_expr(group: str | None) -> str:
    return _q(group) if group else "0"


def _postgres_sql(sql: str, *, columns: list[str], fractions: list[float], group: str | None,
                  sums: list[str]) -> str:
    parts = [f"{_group_expr(group)} AS g", "COUNT(*)"]
    parts += [f"SUM({_q(name)})" for name in sums]
    for column in columns:
        parts.append(f"COUNT({_q(column)})")
        parts += [f"percentile_cont({fraction!r}) WITHIN GROUP (ORDER BY {_q(column)})" for fraction in fractions]
    # Only quoted column names and numbers are put in the SQL; every value stays a parameter.
    return f"SELECT {', '.join(parts)} FROM ({sql}) src GROUP BY 1"  # noqa: S608


def _window_sql(sql: str, *, columns: list[str], fractions: list[float], group: str | None,
                sums: list[str], head: str = "g", carry: Sequence[str] = ()) -> str:
    inner = [f"{_group_expr(group)} AS g"] + [f"{_q(name)} AS k_{j}" for j, name in enumerate(carry)]
    inner += [f"{_q(name)} AS s_{i}" for i, name in enumerate(sums)]
    outer = [head, "COUNT(*)"] + [f"SUM(s_{i})" for i in range(len(sums))]
    for i, column in enumerate(columns):
        value = _q(column)
        # NULLs get a partition of their own, so the row numbers of the values start at 1.
        inner += [
            f"{value} AS v_{i}",
            f"ROW_NUMBER() OVER (PARTITION BY {_group_expr(group)}, ({value} IS NULL) ORDER BY {value}) AS rn_{i}",
            f"COUNT({value}) OVER (PARTITION BY {_group_expr(group)}) AS n_{i}",
        ]
        outer.append(f"COUNT(v_{i})")
        outer += [_interpolated(i, round(fraction * _SCALE)) for fraction in fractions]
    return f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM ({sql}) src) w GROUP BY g"  # noqa: S608


def percentile_sets(
    source: QuerySet,
    *,
    groups: Sequence[str],
    columns: Sequence[str],
    fractions: Sequence[float],
    sums: Sequence[str] = (),
    portable: bool | None = None,
) -> dict[str | None, dict[Any, GroupStats]]:
    """``percentiles`` over every row (under the key None, a single group keyed 0) and per value
    of each of the ``groups`` columns, in one query and one pass over ``source``: GROUP BY
    GROUPING SETS on PostgreSQL, a UNION ALL of the window version elsewhere."""
    sql, params = source.query.sql_with_params()
    if portable is None:
        portable = connection.vendor != "postgresql"
    names, columns, fractions, sums = list(groups), list(columns), list(fractions), list(sums)
    if portable:
        branches = []
        for index, group in enumerate([None, *names]):
            # The other groups' keys are NULLs of their own type, which PostgreSQL's UNION needs.
            keys = ["g" if index == 0 else "NULL"]
            keys += ["g" if position == index else f"MIN(CASE WHEN 1 = 0 THEN k_{position - 1} END)"
                     for position in range(1, len(names) + 1)]
            branches.append(_window_sql(sql, columns=columns, fractions=fractions, group=group, sums=sums,
                                        head=f"{index}, {', '.join(keys)}", carry=names))
        query = " UNION ALL ".join(branches)
        params = tuple(params) * len(branches)
    else:
        query = _grouping_sets_sql(sql, groups=names, columns=columns, fractions=fractions, sums=sums)
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    result: dict[str | None, dict[Any, GroupStats]] = {group: {} for group in [None, *names]}
    width = len(names) + 1
    for row in rows:
        index = _set_index(row[0], len(names)) if not portable else row[0]
        group = None if index == 0 else names[index - 1]
        key = 0 if group is None else row[1 + index]
        result[group][key] = _group_stats((key, *row[1 + width:]), columns, fractions, sums)
    return result


def _set_index(grouping: int, n: int) -> int:
    """The grouping set of a row from PostgreSQL's GROUPING(g1, ..., gn) bits: 0 for (), i for (gi)."""
    for i in range(n):
        if grouping == (2**n - 1) ^ (1 << (n - 1 - i)):
            return i + 1
    return 0


def _grouping_sets_sql(sql: str, *, groups: list[str], columns: list[str], fractions: list[float],
                       sums: list[str]) -> str:
    keys = [_q(name) for name in groups]
    parts = [f"GROUPING({', '.join(keys)})", "NULL", *keys, "COUNT(*)"]
    parts += [f"SUM({_q(name)})" for name in sums]
    for column in columns:
        parts.append(f"COUNT({_q(column)})")
        parts += [f"percentile_cont({fraction!r}) WITHIN GROUP (ORDER BY {_q(column)})" for fraction in fractions]
    sets = ", ".join(["()", *(f"({key})" for key in keys)])
    # Only quoted column names and numbers are put in the SQL; every value stays a parameter.
    return f"SELECT {', '.join(parts)} FROM ({sql}) src GROUP BY GROUPING SETS ({sets})"  # noqa: S608


def _interpolated(i: int, thousandths: int) -> str:
    """percentile_cont: the value at position 1 + p·(n - 1), between the two rows around it."""
    offset = f"({thousandths} * (n_{i} - 1))"
    low = f"(1 + {offset} / {_SCALE})"  # integer division: the floor, as the operands are integers
    # The remainder without the % operator, which the drivers' parameter syntax would claim.
    frac = f"(({offset} - ({offset} / {_SCALE}) * {_SCALE}) * 1.0 / {_SCALE})"
    return (
        f"CASE WHEN COUNT(v_{i}) = 0 THEN NULL ELSE SUM(CASE WHEN v_{i} IS NULL THEN 0 "
        f"WHEN rn_{i} = {low} THEN v_{i} * (1 - {frac}) "
        f"WHEN rn_{i} = {low} + 1 THEN v_{i} * {frac} ELSE 0 END) END"
    )


def as_date(value: Any) -> dt.date | None:
    """A day or week key read back from raw SQL: a date, a datetime, or SQLite's text."""
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.date.fromisoformat(str(value)[:10])
