"""Moved to examples/vendors/vendor_kit.py; this shim keeps the old path working for loaders by path."""
import importlib.util, pathlib  # noqa: E401
_spec = importlib.util.spec_from_file_location("clinval_examples_vendor_kit", pathlib.Path(__file__).resolve().parents[1] / "vendors" / "vendor_kit.py")
_kit = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(_kit)  # noqa: E702
build, build_all, KINDS, EXAMPLES, fit_logistic = _kit.build, _kit.build_all, _kit.KINDS, _kit.EXAMPLES, _kit.fit_logistic
