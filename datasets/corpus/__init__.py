"""Corpus versions: de-identified, content-addressed, immutable snapshots of hospital exports.

:func:`build_corpus` turns an identified export (DICOM, FHIR NDJSON, reference CSVs) into
``<corpora_root>/<corpus_id>/`` with inputs stored by content hash, ``index.parquet`` per site (what a sandboxed
model may see), ``labels.parquet`` per site kept apart under ``labels/``, an ingest report of what was quarantined,
and ``manifest.json`` whose sha256 is the corpus id. :func:`load_corpus` re-verifies every byte.
"""

from datasets.corpus._build import CORPUS_TASKS, build_corpus
from datasets.corpus._manifest import FORMAT_VERSION, MANIFEST_NAME, QUALITY_NAME, REPORT_NAME
from datasets.corpus._site import DEV_SPLIT_SITES, case_id
from datasets.corpus._tables import INDEX_COLUMNS, LABEL_COLUMNS
from datasets.corpus._version import CorpusVersion, load_corpus
from datasets.corpus.errors import (
    CorpusError,
    CorpusInputError,
    CorpusIntegrityError,
    CorpusOptionError,
    PhiLeakError,
)

__all__ = [
    "CORPUS_TASKS",
    "DEV_SPLIT_SITES",
    "FORMAT_VERSION",
    "INDEX_COLUMNS",
    "LABEL_COLUMNS",
    "MANIFEST_NAME",
    "QUALITY_NAME",
    "REPORT_NAME",
    "CorpusError",
    "CorpusInputError",
    "CorpusIntegrityError",
    "CorpusOptionError",
    "CorpusVersion",
    "PhiLeakError",
    "build_corpus",
    "case_id",
    "load_corpus",
]
