"""Streaming CSV: rows become text chunks as they are read, so memory stays flat for millions of codes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from couponry.adapters.db.bulk_codes import CSV_HEADER


def csv_chunks(rows: Iterable[Mapping[str, Any]], rows_per_chunk: int = 2000) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for n, row in enumerate(rows, 1):
        writer.writerow((row["code"], row["campaign_id"], row["customer_id"] or ""))
        if n % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
