"""Imported once by the forkserver of :func:`datasets.corpus.build_corpus`, so that each worker process starts
with pydicom, pyarrow and the de-identification engine already loaded (never imported by the package itself)."""

import pyarrow.parquet  # noqa: F401
import pydicom  # noqa: F401

import datasets.deid  # noqa: F401
import datasets.deid.fhir  # noqa: F401
