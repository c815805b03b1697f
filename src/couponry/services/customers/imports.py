"""`couponry customers import FILE.csv`: upsert customers by id, a batch per transaction.

Columns are the PUT fields (`id` required; `tags` separated by `;`, `attributes` a JSON object,
`marketing_consent` true/false, `signed_up_at` RFC 3339). A row that cannot be taken whole is skipped
and reported by its line number; the others are saved by the same rules as PUT
(services/customers/profiles.py). Memory stays bounded: only one batch is held at a time.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy.exc import DBAPIError

from couponry.adapters.db.engine import Database
from couponry.domain.errors import InvalidInput
from couponry.services.customers.profiles import INPUT_FIELDS, Refused, check_id, check_profile, save_profiles

COLUMNS = ("id", *INPUT_FIELDS)
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n", ""}


MAX_REPORTED = 10_000  # skipped rows described one by one; beyond that only counted


@dataclass
class ImportReport:
    saved: int = 0
    created: int = 0
    skipped_count: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)

    def skip(self, line: int, why: str) -> None:
        self.skipped_count += 1
        if len(self.skipped) < MAX_REPORTED:
            self.skipped.append((line, why))


class BadFile(ValueError):
    """The file as a whole cannot be read (no id column, unknown columns)."""


def import_customers(
    db: Database,
    source: TextIO,
    now: datetime,
    *,
    batch_size: int = 1000,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    reader = csv.DictReader(source)
    header = reader.fieldnames or []
    if "id" not in header:
        raise BadFile("the first line must name the columns, and one of them must be id")
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise BadFile(f"unknown columns: {', '.join(unknown)} (known: {', '.join(COLUMNS)})")
    report = ImportReport()
    for batch in _batches(reader, batch_size, report):
        _save(db, batch, now, report)
        if on_progress:
            on_progress(reader.line_num)
    return report


def _batches(
    reader: csv.DictReader, size: int, report: ImportReport
) -> Iterator[list[tuple[int, str, dict[str, Any]]]]:
    batch: list[tuple[int, str, dict[str, Any]]] = []
    for row in reader:
        line = reader.line_num
        try:
            if None in row or any(v is None for v in row.values()):
                raise InvalidInput("row", "has a different number of fields than the header")
            customer_id = check_id(row["id"])
            batch.append((line, customer_id, check_profile(_profile(row))))
        except InvalidInput as exc:
            report.skip(line, exc.detail)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _profile(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("email", "name", "birthday", "referred_by"):
        if row.get(name):
            out[name] = row[name].strip()
    if "tags" in row:
        out["tags"] = [t.strip() for t in row["tags"].split(";") if t.strip()]
    if row.get("attributes", "").strip():
        try:
            out["attributes"] = json.loads(row["attributes"])
        except ValueError:
            raise InvalidInput("attributes", "must be a JSON object") from None
    consent = row.get("marketing_consent", "").strip().lower()
    if consent not in _TRUE | _FALSE:
        raise InvalidInput("marketing_consent", "must be true or false")
    out["marketing_consent"] = consent in _TRUE
    if row.get("signed_up_at", "").strip():
        try:
            out["signed_up_at"] = datetime.fromisoformat(row["signed_up_at"].strip())
        except ValueError:
            raise InvalidInput("signed_up_at", "must be an RFC 3339 time") from None
    return out


def _save(
    db: Database, batch: list[tuple[int, str, dict[str, Any]]], now: datetime, report: ImportReport
) -> None:
    """The batch in one transaction; if the database refuses it, row by row, so one bad row cannot
    take the others down with it."""
    try:
        with db.write() as conn:
            results = save_profiles(conn, [(cid, profile) for _, cid, profile in batch], now)
    except DBAPIError:
        for item in batch:
            try:
                with db.write() as conn:
                    results = save_profiles(conn, [(item[1], item[2])], now)
            except DBAPIError as exc:
                report.skip(item[0], f"the database refused it: {str(exc.orig)[:200]}")
                continue
            _tally([item], results, report)
        report.skipped.sort()
        return
    _tally(batch, results, report)


def _tally(batch: list[tuple[int, str, dict[str, Any]]], results: list[Any], report: ImportReport) -> None:
    for result in results:
        line = batch[result.index][0]
        if isinstance(result, Refused):
            report.skip(line, result.error.detail)
        else:
            report.saved += 1
            report.created += result.created
