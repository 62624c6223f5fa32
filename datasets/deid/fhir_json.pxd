# Compiled build of fhir_json.py (Cython "augmenting .pxd"; fhir_json.py is the source of truth). Nothing to
# declare: compiling the duplicate-key hook that the JSON decoder calls once per object is the gain.
