# Static types for the compiled build of fhir.py (Cython "augmenting .pxd"); fhir.py stays the source of truth
# and runs unchanged without a compiler. Only values whose type the walk itself guarantees are typed: a value
# taken from the input keeps the generic type so that bad input fails exactly as in pure Python.
cimport cython

from datasets.deid.freetext cimport FreeTextScanner
from datasets.deid.pseudonym cimport Pseudonymizer

cdef object _DROP
cdef object _ID, _TYPE, _UUID, _RELATIVE, _ABSOLUTE, _CONDITIONAL, _DICOM_UID, _DATE_VALUE
cdef frozenset _DATE_KEYS, _NO_SCAN, _DROP_KEYS, _ABSTRACT, _IDENTIFIER_KEYS, _SPECIAL_KEYS
cdef frozenset _REFERENCE_KEYS, _CONCEPT_KEYS, _CODING_KEYS, _QUANTITY_KEYS, _RESOURCE_KEYS
cdef dict _RESOURCE_DROP, _RESOURCE_PLANS, _OBJECT_ACTIONS, _PLANS, _PLANS_ONE, _NO_LOCAL, _KNOWN_TYPES
cdef Py_ssize_t _TEXT, _SCAN, _NOSCAN, _SKIP, _SPECIAL, _A_ID, _A_META, _A_CONTAINED, _DISPLAY_NONE
cdef Py_ssize_t _K_SELF, _K_QUANTITY, _K_REFERENCE, _K_CONCEPT, _K_RESOURCE, _K_GENERIC
cdef Py_ssize_t _ACTION_CACHE_MAX, _PLAN_CACHE_MAX
cdef tuple _PATIENT_KEYS
cdef Py_ssize_t _MAX_HARVEST_DEPTH

cpdef bint _is_uuid(str s) except -1
cdef Py_ssize_t _string_action(key) except -1
cdef Py_ssize_t _resource_action(rtype, key) except -1
cdef Py_ssize_t _object_action(key) except -1
cdef tuple _plan(tuple keys)
cdef tuple _generic_plan(tuple keys, frozenset ks)


@cython.final
cdef class _Patient:
    cdef public object pseudonym
    cdef public Py_ssize_t shift
    cdef public FreeTextScanner scanner
    cdef public object gender
    cdef public object birth
    cdef public object latest
    cdef public list outputs
    cdef public dict dates


@cython.final
cdef class _Engine:
    cdef public Pseudonymizer pseudo
    cdef public object site
    cdef public object options
    cdef public Py_ssize_t max_depth
    cdef public dict patients
    cdef public dict fullurls
    cdef public object default_scanner
    cdef public _Patient _nobody
    cdef public set used_urns
    cdef public dict _ref_cache
    cdef public dict _pref_cache
    cdef public dict _date_memo
    cdef public object validate_mode
    cdef public object validation_sample
    cdef public dict _type_crc

    cpdef _Patient register_patient(self, resource, mrn=*)
    cdef _Patient _patient_for_id(self, pid)
    cdef _Patient _nobody_patient(self)
    cpdef _Patient patient_of(self, resource)
    cpdef _patient_ref_id(self, ref)
    cdef map_id(self, rtype, rid)
    cdef bint is_our_id(self, rtype, rid) except -1
    cpdef reference(self, ref, dict local)
    @cython.locals(slash=Py_ssize_t)
    cdef _reference(self, ref, dict local)
    @cython.locals(i=Py_ssize_t, act=Py_ssize_t, acts=tuple, out=dict, local=dict, shape=tuple, sv=str)
    cpdef dict resource(self, res, _Patient pat, Py_ssize_t depth=*, bint top=*)
    cdef dict _contained(self, c, _Patient pat, dict local, Py_ssize_t depth)
    @cython.locals(out=dict)
    cdef meta(self, v, _Patient pat, dict local, Py_ssize_t depth)
    cdef value(self, key, v, _Patient pat, dict local, Py_ssize_t depth)
    @cython.locals(out=list, no_scan=bint)
    cdef array(self, key, list v, _Patient pat, dict local, Py_ssize_t depth)
    cdef string(self, key, str v, _Patient pat)
    @cython.locals(i=Py_ssize_t, act=Py_ssize_t, acts=tuple, shape=tuple, plan=tuple, kind=Py_ssize_t,
                   is_ref=bint, is_attachment=bint, shared=bint, sv=str)
    cdef obj(self, key, dict d, _Patient pat, dict local, Py_ssize_t depth)
    cdef member(self, k, v, _Patient pat, dict local, Py_ssize_t depth, bint is_ref, bint is_attachment)
    cdef extensions(self, v, _Patient pat, dict local, Py_ssize_t depth)
    cdef check_modifiers(self, v)
    cdef identifiers(self, v, _Patient pat, dict local, Py_ssize_t depth)
    cpdef tuple finish_patients(self)
    @cython.locals(prefix=object)
    cpdef bint should_validate(self, dict out) except -1


cdef tuple _run_one(_Engine engine, res, where, locate=*, pat=*)
cdef dict _entry(_Engine engine, e, dict out)
cdef dict _validate_outputs(_Engine engine, list items, locate=*)
