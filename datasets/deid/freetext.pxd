# Static types for the compiled build of freetext.py (Cython "augmenting .pxd"); freetext.py is the source of truth.
cdef object _TRIGGER

cdef class FreeTextScanner:
    cdef object _regex
    cdef tuple _lower
    cdef dict _memo

    cpdef clean(self, text)
    cpdef _clean(self, text)
