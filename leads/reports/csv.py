"""CSV export of a report's table: streamed, and safe to open in a spreadsheet.

A cell that starts with = + - @ (or a tab, carriage return or line feed, which some spreadsheets skip
before looking for those) would be run as a formula: such cells get a leading single quote,
the usual neutraliser. Report figures never start with those characters (changes are written
with arrows), so only text from people (an opening's title, a reason's label) is ever touched.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import replace

from django.http import StreamingHttpResponse
from django.utils.text import slugify

from leads.reports.tables import Table

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
# A signed number alone (a phone number in E.164, a change of -3) runs nothing: left as it is.
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def neutralise(cell: str) -> str:
    if cell.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(cell):
        return f"'{cell}"
    return cell


class _Echo:
    """A file-like object whose write returns the line, for csv.writer to stream through."""

    def write(self, value: str) -> str:
        return value


def csv_lines(table: Table) -> Iterator[str]:
    writer = csv.writer(_Echo())
    # A byte-order mark: Excel then reads the file as UTF-8 (country names, arrows, x).
    yield "\ufeff"
    yield writer.writerow([neutralise(str(cell)) for cell in table.columns])
    for row in table.rows:
        yield writer.writerow([neutralise(str(cell)) for cell in row])


def _translated(table: Table) -> Table:
    """The table with its headers and cells as text now, in the language of the request: the
    lines stream after the view has returned."""
    return replace(table, columns=[str(cell) for cell in table.columns],
                   rows=[[str(cell) for cell in row] for row in table.rows])


def csv_response(table: Table, *, name: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(_translated(table)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slugify(name)}-{table.key}.csv"'
    return response
