# Static types for the compiled build of freetext.py (Cython "augmenting .pxd"); freetext.py is the source of truth.
cdef object _TRIGGER, _PHI_TRIGGER
cdef list _PHI_ONLY
cdef object _phi_only()

cdef class FreeTextScanner:
    cdef object _regex
    cdef str _pattern
    cdef tuple _lower
    cdef bint _plain
    cdef bint _ascii
    cdef dict _memo

    cpdef clean(self, text)
    cpdef _clean(self, text)
