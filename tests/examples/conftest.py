"""One small synthetic centre for the example-model tests: a DEV site to fit on and six hospitals that cover both
photometric interpretations and both creatinine units, de-identified into a corpus version; every example model
built from it by the vendor kit; and every model's scores at every site, from the saved MLflow models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from examples_centre import CASES, MONOCHROME1_SITES, SEED, SITES, UMOL_SITES, load_kit



@pytest.fixture(scope="session")
def kit():
    return load_kit()


@pytest.fixture(scope="session")
def centre(tmp_path_factory, kit):
    """(corpus_dir, {example: (model_dir, card_path)}) of the test centre."""
    from datasets.corpus import build_corpus
    from datasets.sites import get_site
    from datasets.synthetic import generate_export

    # the site groups above are facts of the site profiles; check them so that the tests mean what they say
    for code in SITES:
        site = get_site(code)
        assert (code in MONOCHROME1_SITES) == (site.imaging.photometric_interpretation == "MONOCHROME1"), code
        assert (code in UMOL_SITES) == (site.clinical.creatinine_unit == "umol/L"), code
    assert get_site("DEV").imaging.photometric_interpretation == "MONOCHROME2"
    assert get_site("DEV").clinical.creatinine_unit == "mg/dL"

    base = tmp_path_factory.mktemp("examples-centre")
    generate_export(base / "export", sites=("DEV", *SITES), cases=CASES, seed=SEED, image_size=64, workers=2)
    version = build_corpus(base / "export", base / "corpora", secret=kit.EXAMPLES_SECRET, workers=2)
    built = kit.build_all(version.path, base / "models")
    return Path(version.path), built


@pytest.fixture(scope="session")
def scores(centre, kit):
    """{(example, site): DataFrame(case_id, label, score)} from each saved model's own predict, in this process."""
    import warnings

    import mlflow.pyfunc

    corpus_dir, built = centre
    out = {}
    for name, (model_dir, _) in built.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model = mlflow.pyfunc.load_model(str(model_dir))
        task = kit.EXAMPLES[name].task
        for site in SITES:
            cases = kit.site_cases(corpus_dir, site, task)
            predicted = model.predict(cases[["case_id", "path"]])
            frame = cases[["case_id", "label"]].merge(predicted, on="case_id", validate="one_to_one")
            assert len(frame) == len(cases) and np.isfinite(frame["score"]).all()
            out[name, site] = frame
    return out


@pytest.fixture(scope="session")
def thresholds(centre):
    import yaml

    return {name: float(yaml.safe_load(Path(card).read_text())["operating_threshold"])
            for name, (_, card) in centre[1].items()}
