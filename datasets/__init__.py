"""Hospital data for clinical validation: the 16-site registry, synthetic hospital exports, de-identification
(DICOM PS3.15 Annex E, FHIR safe harbour), corpus versions and data-quality suites.

Imports nothing from ``validation`` or ``dashboards``; heavy libraries load lazily inside the functions that
need them.
"""

from datasets.sites import DEV_CODE, HOSPITAL_CODES, SITE_CODES, SITES, SiteProfile, get_site

__all__ = ["DEV_CODE", "HOSPITAL_CODES", "SITE_CODES", "SITES", "SiteProfile", "get_site"]
