"""An uploaded table as rows of text: CSV (UTF-8 with or without BOM, or Windows-1251; `;` or `,`) or XLSX.

The type is decided by the content, never by the file name; an XLSX must pass
the same check as an uploaded document (admin_app.documents: a real package,
no macros, no zip bomb). Blank rows are skipped; each row keeps its line number
in the file, so a message can point at it. Every refusal is a `BulkInputError`
with a Russian message for the whole file.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from admin_app.documents import XLSX, detect_type

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls and other pre-2007 Office files
MAX_COLUMNS = 30
CONTROL_ALLOWED = frozenset("\t\r\n")
NOT_A_TABLE = (
    "Не удалось прочитать файл: это не таблица CSV и не книга Excel XLSX. "
    "Сохраните таблицу как «Книга Excel (*.xlsx)» или «CSV (разделители — точка с запятой)» "
    "в кодировке UTF-8 или Windows-1251. Файлы с макросами не принимаются."
)
OLD_EXCEL = "Формат XLS (Excel 97–2003) не поддерживается: сохраните таблицу как «Книга Excel (*.xlsx)» или CSV."
BROKEN_XLSX = "Не удалось прочитать книгу Excel: возможно, файл повреждён. Откройте его и сохраните заново."


class BulkInputError(ValueError):
    """The whole upload or list is refused; the message says why, in Russian."""


@dataclass(frozen=True)
class TableRow:
    line: int  # as the spreadsheet numbers it, from 1
    cells: tuple[str, ...]


def read_table(content: bytes, *, max_rows: int) -> list[TableRow]:
    """The non-blank rows of a CSV or XLSX file, at most `max_rows` + 1: one more than asked tells there are more."""
    if content.startswith(b"PK\x03\x04"):
        if detect_type(content) is not XLSX:
            raise BulkInputError(NOT_A_TABLE)
        rows = _xlsx_rows(content)
    elif content.startswith(OLE2_MAGIC):
        raise BulkInputError(OLD_EXCEL)
    else:
        rows = _csv_rows(_decode(content))
    return list(islice(_non_blank(rows), max_rows + 1))


def _non_blank(rows: Iterable[tuple[str, ...]]) -> Iterator[TableRow]:
    for line, cells in enumerate(rows, start=1):
        stripped = tuple(cell.strip() for cell in cells[:MAX_COLUMNS])
        if any(stripped):
            yield TableRow(line, stripped)


def _decode(content: bytes) -> str:
    """UTF-8 (a BOM is dropped), else Windows-1251; anything with control bytes is not a text table."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("cp1251")
        except UnicodeDecodeError:
            raise BulkInputError(NOT_A_TABLE) from None
    if any(unicodedata.category(char) == "Cc" and char not in CONTROL_ALLOWED for char in text):
        raise BulkInputError(NOT_A_TABLE)
    return text


def _csv_rows(text: str) -> Iterator[tuple[str, ...]]:
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for cells in reader:
            yield tuple(cells)
    except csv.Error:
        raise BulkInputError(
            f"Не удалось прочитать файл CSV около строки {reader.line_num}: проверьте кавычки в этой строке."
        ) from None


def _xlsx_rows(content: bytes) -> Iterator[tuple[str, ...]]:
    """The first sheet's cells as text (formulas give their saved values)."""
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise BulkInputError(BROKEN_XLSX) from None
    try:
        for values in workbook.worksheets[0].iter_rows(max_col=MAX_COLUMNS, values_only=True):
            yield tuple("" if value is None else str(value) for value in values)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise BulkInputError(BROKEN_XLSX) from None
    finally:
        workbook.close()
