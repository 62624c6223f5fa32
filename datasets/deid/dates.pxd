# Compiled build of dates.py (Cython "augmenting .pxd"; dates.py is the source of truth): typed module globals.
cdef object _FHIR, _DICOM_DT
