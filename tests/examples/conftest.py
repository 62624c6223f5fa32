"""One synthetic centre for the example-model tests: the 16 hospitals (both photometric interpretations, both
creatinine units) de-identified into a corpus version, as the demo makes it; a separate public DEV split of 200
cases per task that the vendor kit fits every example model on; and every model's scores at every hospital, from
the saved MLflow models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from examples_centre import CASES, DEV_CASES, MONOCHROME1_SITES, SEED, SITES, UMOL_SITES, load_kit


@pytest.fixture(scope="session")
def kit():
    return load_kit()


@pytest.fixture(scope="session")
def centre(tmp_path_factory, kit):
    """(corpus_dir, {example: (model_dir, card_path)}) of the test centre."""
    from datasets.corpus import build_corpus
    from datasets.sites import get_site
    from datasets.synthetic import generate_export

    # the site groups are facts of the site profiles; check them so that the tests mean what they say
    for code in SITES:
        site = get_site(code)
        assert (code in MONOCHROME1_SITES) == (site.imaging.photometric_interpretation == "MONOCHROME1"), code
        assert (code in UMOL_SITES) == (site.clinical.creatinine_unit == "umol/L"), code
    assert get_site("DEV").imaging.photometric_interpretation == "MONOCHROME2"
    assert get_site("DEV").clinical.creatinine_unit == "mg/dL"

    base = tmp_path_factory.mktemp("examples-centre")
    generate_export(base / "export", sites=SITES, cases=CASES, seed=SEED, image_size=128, workers=2)
    version = build_corpus(base / "export", base / "corpora", secret=kit.EXAMPLES_SECRET, workers=2)
    dev = kit.build_dev_corpus(base / "dev", seed=SEED, cases=DEV_CASES, image_size=128, workers=2)
    built = kit.build_all(dev, base / "models")
    return Path(version.path), built, dev


@pytest.fixture(scope="session")
def scores(centre, kit):
    """{(example, site): DataFrame(case_id, label, score, subgroup columns)} from each saved model's own predict."""
    import warnings

    import mlflow.pyfunc
    import pandas as pd

    corpus_dir, built, _ = centre
    out = {}
    for name, (model_dir, _) in built.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model = mlflow.pyfunc.load_model(str(model_dir))
        task = kit.EXAMPLES[name].task
        for site in SITES:
            cases = kit.site_cases(corpus_dir, site, task)
            predicted = model.predict(cases[["case_id", "path"]])
            index = pd.read_parquet(corpus_dir / "sites" / site / "index.parquet")
            frame = cases[["case_id", "label"]].merge(predicted, on="case_id", validate="one_to_one")
            frame = frame.merge(index[["case_id", "age_band", "sex", "manufacturer"]], on="case_id")
            assert len(frame) == len(cases) and np.isfinite(frame["score"]).all()
            frame["site"] = site
            out[name, site] = frame
    return out


@pytest.fixture(scope="session")
def thresholds(centre):
    import yaml

    return {name: float(yaml.safe_load(Path(card).read_text())["operating_threshold"])
            for name, (_, card) in centre[1].items()}
