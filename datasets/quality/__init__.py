"""Data-quality gates of corpus versions, with great-expectations (GX Core 1.x, imported lazily).

:func:`run_quality` runs the suites built in code (:mod:`datasets.quality._suites`) over a corpus version: the
index (ids, allowed values), the labels (binary, one per case, consistent with the index), DICOM metadata (pixel
spacing, size, photometric interpretation, bit depth), clinical values (creatinine plausible after unit
normalisation, units per LOINC code) and privacy (no PHI-like columns). Each expectation is critical or a warning;
a corpus with a failed critical expectation is not usable for evaluation until an admin accepts it.
"""

from datasets.quality._report import ExpectationResult, QualityReport, SuiteResult
from datasets.quality._run import read_quality, run_quality
from datasets.quality._suites import SUITE_ORDER
from datasets.quality.errors import QualityError

__all__ = ["ExpectationResult", "QualityError", "QualityReport", "SUITE_ORDER", "SuiteResult", "read_quality",
           "run_quality"]
