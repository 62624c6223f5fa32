# Static types for the compiled build of pseudonym.py (Cython "augmenting .pxd"); pseudonym.py is the source of
# truth. Arguments keep the generic type: a wrong argument fails as in pure Python.
cimport cython

cdef bytes _B32_LOWER
cdef Py_ssize_t _B32_LEN
cdef str _UID_ROOT

@cython.locals(out=bytearray, j=Py_ssize_t, i=Py_ssize_t, chunk=cython.ulonglong, shift=int)
cpdef str _b32_lower(bytes raw)


cdef class Pseudonymizer:
    cdef object _key, _tag_key, _inner, _outer
    cdef dict _tag_states, _uid_cache, _token_cache, _check_cache

    cpdef _tag(self, domain, body, size)
    cpdef bytes _mac(self, tuple fields)
    cpdef _token(self, tuple fields)
    cpdef bint _is_token(self, domain, value) except -1
    cpdef bint _check_token(self, domain, value) except -1
    cpdef uid(self, uid)
    cpdef bint is_pseudonym_uid(self, uid) except -1
    cpdef patient_id(self, site, mrn)
    cpdef bint is_patient_id(self, value) except -1
    cpdef date_shift_days(self, patient_pseudonym)
    cpdef resource_id(self, site, resource_type, resource_id)
    cpdef bint is_resource_id(self, value) except -1
    cpdef identifier_value(self, site, system, value)
    @cython.locals(cache_key=tuple, body=bytearray, h=str)
    cpdef uuid(self, site, value)
    cpdef bint is_pseudonym_uuid(self, value) except -1
