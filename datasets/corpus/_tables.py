"""The two tables of a corpus version, ``index.parquet`` and ``labels.parquet``: columns, types, writing.

Parquet files are written without compression and without dictionary encoding so that a byte-level PHI scan
sees every string as it is (see :mod:`datasets.phi_scan`), and deterministically (rows sorted by ``case_id``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

__all__ = ["INDEX_COLUMNS", "LABEL_COLUMNS", "index_schema", "labels_schema", "table_bytes"]

INDEX_COLUMNS = (
    ("case_id", "string"), ("site", "string"), ("task", "string"), ("split", "string"), ("modality", "string"),
    ("input_path", "string"), ("age_band", "string"), ("sex", "string"), ("manufacturer", "string"),
    ("patient", "string"), ("rows", "int32"), ("columns", "int32"), ("pixel_spacing_row", "float64"),
    ("pixel_spacing_col", "float64"), ("photometric", "string"), ("bits_stored", "int32"),
)
"""Columns of ``sites/<SITE>/index.parquet``: the case, where its input is, and de-identified attributes.

``patient`` is the (site, MRN) pseudonym (for clustered statistics); ``sex`` is ``M``, ``F``, ``O`` or ``U``;
the image columns are null for non-image inputs; ``pixel_spacing_*`` are in mm (Pixel Spacing, else Imager
Pixel Spacing)."""

LABEL_COLUMNS = (("case_id", "string"), ("site", "string"), ("task", "string"), ("label", "int8"),
                 ("established_by", "string"))
"""Columns of ``labels/<SITE>/labels.parquet`` (the reference standard; never under ``sites/``)."""


def _schema(columns):
    import pyarrow as pa

    types = {"string": pa.string(), "int32": pa.int32(), "int8": pa.int8(), "float64": pa.float64()}
    return pa.schema([pa.field(name, types[t]) for name, t in columns])


def index_schema():
    """pyarrow schema of the index table."""
    return _schema(INDEX_COLUMNS)


def labels_schema():
    """pyarrow schema of the labels table."""
    return _schema(LABEL_COLUMNS)


def table_bytes(rows: Sequence[dict], schema) -> bytes:
    """Serialise rows (dicts keyed by column) as an uncompressed, deterministic parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = sorted(rows, key=lambda r: r["case_id"])
    table = pa.Table.from_pylist(list(rows), schema=schema)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="NONE", use_dictionary=False, write_statistics=False,
                   store_schema=False)
    return buf.getvalue()
