# Static types for the compiled build of fhir_json.py (Cython "augmenting .pxd"); fhir_json.py is the source of
# truth. The JSON decoder calls the duplicate-key hook once per object: compiled, a C loop of dict stores.
cimport cython

cdef str _WS
cdef list _SCANNERS


@cython.locals(out=dict)
cpdef dict _no_duplicates(list pairs)
cdef object _scanner()
