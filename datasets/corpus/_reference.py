"""Reading a site's reference standard (``SITE/reference/<task>.csv``) into validated rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

from datasets.corpus.errors import CorpusInputError

__all__ = ["ReferenceRow", "ReferenceTable", "read_reference"]

_REQUIRED = ("mrn", "accession_number", "visit_number", "index_time", "label", "established_by")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceRow:
    """One labelled case as the hospital keyed it (identified: never log or store it)."""

    mrn: str
    accession_number: str
    visit_number: str
    index_time: dt.datetime | None
    label: int
    established_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceTable:
    """Valid rows of one reference file and how many were refused (PHI-free counts)."""

    rows: tuple[ReferenceRow, ...]
    seen: int
    invalid: int
    duplicate: int


def _key(task: str, row: ReferenceRow) -> tuple[str, str]:
    return (row.mrn, row.visit_number if task == "aki-48h" else row.accession_number)


def read_reference(path: Path, task: str) -> ReferenceTable:
    """Read a reference CSV; rows with an empty key, a label other than 0/1 or (for ``aki-48h``) an unreadable
    index time are counted as invalid, repeated keys after the first as duplicate.

    Raises
    ------
    CorpusInputError
        If the file is not UTF-8 CSV with the columns ``mrn, accession_number, visit_number, index_time, label,
        established_by``.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CorpusInputError(f"reference file {path.parent.parent.name}/reference/{path.name} is not UTF-8; "
                               "re-export it as UTF-8 CSV.") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in _REQUIRED if c not in (reader.fieldnames or ())]
    if missing:
        raise CorpusInputError(f"reference file {path.parent.parent.name}/reference/{path.name} lacks column(s) "
                               f"{missing}; expected {list(_REQUIRED)}.")
    rows: list[ReferenceRow] = []
    keys: set[tuple[str, str]] = set()
    seen = invalid = duplicate = 0
    for raw in reader:
        seen += 1
        label_text = (raw.get("label") or "").strip()
        when: dt.datetime | None = None
        text_time = (raw.get("index_time") or "").strip()
        if text_time:
            try:
                when = dt.datetime.fromisoformat(text_time)
            except ValueError:
                when = None
        row = ReferenceRow(mrn=(raw.get("mrn") or "").strip(), accession_number=(raw.get("accession_number") or
                           "").strip(), visit_number=(raw.get("visit_number") or "").strip(), index_time=when,
                           label=1 if label_text == "1" else 0, established_by=(raw.get("established_by") or
                                                                                "").strip())
        key = _key(task, row)
        bad_time = task == "aki-48h" and (when is None or when.tzinfo is None)
        if label_text not in ("0", "1") or not key[0] or not key[1] or bad_time:
            invalid += 1
            continue
        if key in keys:
            duplicate += 1
            continue
        keys.add(key)
        rows.append(row)
    return ReferenceTable(rows=tuple(rows), seen=seen, invalid=invalid, duplicate=duplicate)
