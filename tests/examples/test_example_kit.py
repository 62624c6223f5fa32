"""The example models are submittable (static checks, cards), built reproducibly, and the kit keeps its old
entry points: task names, the shim at examples/models/vendor_kit.py and the command line."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from examples_centre import KIT_PATH, ROOT

from validation.registry import check_model_dir, load_model_card

pytestmark = pytest.mark.filterwarnings("ignore:.*Add type hints:UserWarning")  # mlflow advice, coloured
VIEWS = {"cxr-pneumonia": "dicom", "aki-48h": "fhir"}


def test_every_example_passes_the_static_checks(centre, kit):
    _, built, _ = centre
    assert set(built) == set(kit.EXAMPLES)
    for name, (model_dir, _) in built.items():
        report = check_model_dir(model_dir, view=VIEWS[kit.EXAMPLES[name].task])
        assert report.problems == (), (name, report.problems)
        assert report.unmet_requirements == (), (name, report.unmet_requirements)
        assert any(path.endswith("model.py") for path in report.manifest), name  # the code travels along


def test_every_card_is_valid_and_names_its_protocol(centre, kit):
    _, built, _ = centre
    names = set()
    for name, (_, card_path) in built.items():
        card = load_model_card(card_path)
        assert card.protocol_id == kit.EXAMPLES[name].task
        assert 0 < card.operating_threshold < 1
        assert card.training_data.sites == ("DEV",)
        names.add(card.model_name)
    assert len(names) == len(built)  # distinct model names


def test_flaws_are_declared_in_the_cards(centre):
    _, built, _ = centre
    for name, (_, card_path) in built.items():
        declared = "Known flaw" in load_model_card(card_path).intended_use
        assert declared == (name not in ("cxr-opacity", "aki-risk")), name


def test_rebuilding_gives_the_same_weights_and_cards(centre, kit, tmp_path):
    _, built, dev = centre
    names = ["cxr-opacity", "aki-miscalibrated"]  # one of each task (the CXR template is the slow part)
    again = kit.build_all(dev, tmp_path, names=names)
    for name in names:
        model_dir, card_path = built[name]
        assert (again[name][1]).read_bytes() == card_path.read_bytes(), name
        weights = again[name][0].parent / "weights.json"
        assert weights.read_bytes() == (model_dir.parent / "weights.json").read_bytes(), name


def test_task_names_build_the_competent_models_through_the_old_path(centre, tmp_path):
    old_path = ROOT / "examples" / "models" / "vendor_kit.py"
    spec = importlib.util.spec_from_file_location("clinval_test_old_kit", old_path)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    assert set(old.KINDS) == {"cxr-pneumonia", "aki-48h"}
    assert callable(old.fit_logistic)
    _, built, dev = centre
    model_dir, card_path = old.build("aki-48h", dev, tmp_path / "aki")
    assert model_dir == tmp_path / "aki" / "model"
    assert yaml.safe_load(card_path.read_text())["model_name"] == "aki-early-warning"
    competent = built["aki-risk"][0].parent / "weights.json"
    assert (tmp_path / "aki" / "weights.json").read_bytes() == competent.read_bytes()


def test_unknown_example_is_refused(centre, kit, tmp_path):
    with pytest.raises(SystemExit, match="unknown example"):
        kit.build("cxr-psychic", centre[2], tmp_path)


def test_build_corpus_command_builds_every_example_from_nothing(tmp_path):
    out = tmp_path / "examples"
    done = subprocess.run([sys.executable, str(KIT_PATH), "--build-corpus", str(out), "--cases", "40",
                           "--image-size", "64", "--seed", "3"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    corpora = [p for p in (out / "corpora").iterdir() if not p.name.startswith(".")]
    assert len(corpora) == 1 and (corpora[0] / "manifest.json").is_file()
    assert f"corpus: {corpora[0]}" in done.stdout
    for name in ("cxr-opacity", "cxr-mono-blind", "aki-risk", "aki-mgdl-only", "aki-miscalibrated"):
        assert (out / "models" / name / "model" / "MLmodel").is_file(), name
        assert load_model_card(out / "models" / name / "card.yaml").training_data.sites == ("DEV",)
        assert f"{name}: model {out / 'models' / name / 'model'}" in done.stdout
    assert Path(out / "export" / "DEV").is_dir() and not (out / "export" / "H01").exists()  # DEV only
