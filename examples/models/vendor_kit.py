"""Moved to examples/vendors/vendor_kit.py: this shim loads it by path and re-exports its API."""
import importlib.util, pathlib  # noqa: E401
_path = pathlib.Path(__file__).resolve().parents[1] / "vendors" / "vendor_kit.py"
_spec = importlib.util.spec_from_file_location("clinval_examples_vendor_kit", _path)
_kit = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(_kit)  # noqa: E702
build, build_all, fit_logistic = _kit.build, _kit.build_all, _kit.fit_logistic
KINDS, EXAMPLES = _kit.KINDS, _kit.EXAMPLES
