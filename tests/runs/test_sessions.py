"""The local executor keeps one sandbox session per worker across sites; a model failure at one site does not
poison the others (the next site starts a fresh session). Golden scores are recomputed here from the model's rule
(``int(sha256(case_id)[:8]) / 2**64``)."""

from __future__ import annotations

import hashlib
import textwrap

import pandas as pd
import pytest

from validation.runs.executors import LocalExecutor
from validation.runs.work import SiteJob, batch_file, site_cases

MODEL = textwrap.dedent(
    '''
    import hashlib

    import mlflow.models
    import mlflow.pyfunc
    import pandas as pd


    class FailsAtH05(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            for path in model_input["path"]:
                with open(path, "rb") as fh:  # every input file is readable where the model runs
                    fh.read(4)
                if "/input/H05/" in path:
                    raise RuntimeError("this model cannot read H05's images")
            ids = model_input["case_id"]
            return pd.DataFrame({"case_id": ids, "score": [
                int.from_bytes(hashlib.sha256(str(c).encode()).digest()[:8], "big") / 2.0**64 for c in ids]})


    mlflow.models.set_model(FailsAtH05())
    '''
)


def _golden(case_id: str) -> float:
    return int.from_bytes(hashlib.sha256(case_id.encode()).digest()[:8], "big") / 2.0**64


@pytest.fixture(scope="module")
def picky_model(tmp_path_factory):
    import mlflow.pyfunc

    base = tmp_path_factory.mktemp("picky")
    code = base / "model.py"
    code.write_text(MODEL)
    model = base / "model"
    mlflow.pyfunc.save_model(model, python_model=str(code), pip_requirements=["mlflow==3.17.2", "pandas"])
    for path in [base, *base.rglob("*")]:
        path.chmod(path.stat().st_mode | (0o005 if path.is_dir() else 0o004))
    return model


def test_one_session_per_worker_and_a_fresh_one_after_a_site_fails(world, picky_model, tmp_path):
    from validation.corpora import corpus_dir

    platform, _, _, corpus = world
    cdir = corpus_dir(platform, corpus)
    run_dir = tmp_path / "run"
    jobs = [SiteJob(run_id="sessions", site=site, task="cxr-pneumonia", split="test", corpus_dir=str(cdir),
                    run_dir=str(run_dir), model_dir=str(picky_model), batch_size=8, isolation="bwrap")
            for site in ("H01", "H05", "H09")]
    seen = []
    outcomes = {o.site: o for o in LocalExecutor(workers=1).run(jobs, seen.append)}
    assert [o.site for o in seen] == ["H01", "H05", "H09"]  # one worker takes the sites in order
    assert outcomes["H05"].state == "failed"
    assert outcomes["H05"].reason == "predict raised RuntimeError"
    assert outcomes["H01"].state == outcomes["H09"].state == "done", [o.reason for o in seen]
    assert len({o.where for o in seen}) == 1
    # H01 waited for its session to load the model; H05 found it loaded; H09 had to start a fresh one.
    assert outcomes["H01"].start_seconds > 0.2
    assert outcomes["H05"].start_seconds < 0.05
    assert outcomes["H09"].start_seconds > 0.2
    for site in ("H01", "H09"):
        cases = site_cases(cdir, site, "cxr-pneumonia", "test")
        files = [batch_file(run_dir, site, k) for k in range(outcomes[site].n_batches)]
        got = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        assert got["case_id"].tolist() == cases["case_id"].tolist()
        assert got["score"].tolist() == [_golden(c) for c in cases["case_id"]]
    assert not (run_dir / "predictions" / "H05").exists()


def test_a_checkpoint_that_cannot_be_written_closes_the_tasks_sandbox(world, picky_model, tmp_path, monkeypatch):
    """Anything escaping a site task (here a full disk at the first checkpoint) closes its session first."""
    from validation.corpora import corpus_dir
    from validation.runs import work
    from validation.sandbox import SandboxSession

    platform, _, _, corpus = world
    sessions = []
    real_init = SandboxSession.__init__

    def remember(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        sessions.append(self)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SandboxSession, "__init__", remember)
    monkeypatch.setattr(work, "_write_atomically", disk_full)
    job = SiteJob(run_id="disk", site="H01", task="cxr-pneumonia", split="test",
                  corpus_dir=str(corpus_dir(platform, corpus)), run_dir=str(tmp_path / "run"),
                  model_dir=str(picky_model), batch_size=8, isolation="bwrap")
    assert not job.keep_session
    with pytest.raises(OSError, match="No space left"):
        work.run_site(job)
    assert len(sessions) == 1 and not sessions[0].alive and sessions[0].pid is None


def test_an_unusable_model_or_input_gives_a_reason_without_host_paths(world, tmp_path):
    from validation.corpora import corpus_dir
    from validation.runs import work

    platform, _, _, corpus = world
    missing = tmp_path / "models" / "gone"
    job = SiteJob(run_id="paths", site="H01", task="cxr-pneumonia", split="test",
                  corpus_dir=str(corpus_dir(platform, corpus)), run_dir=str(tmp_path / "run"),
                  model_dir=str(missing), batch_size=8, isolation="bwrap")
    outcome = work.run_site(job)
    assert outcome.state == "failed" and "could not be prepared" in outcome.reason
    assert "/" not in outcome.reason, outcome.reason  # vendors read it; the audit log keeps it
