"""Frozen FHIR de-identification outputs: the inputs, a digest of each output, and the writer of the golden file.

``data/fhir_deid_golden.json`` holds, per named input, the sha256 of the input and of the de-identified output
(bundle or resources with their key order, quarantine records, patients) for the fixed key :data:`SECRET`. It was
written by the implementation of commit 9877d93 (before the type-directed walker and the fast strict parser), so
the test that replays it proves the faster engine removes, replaces and shifts exactly what the old one did.

Inputs: the Synthea reference bundles (as bytes, as NDJSON lines with ``Type/id`` references, and under an explicit
age reference date), and the synthetic export of every site (each site's NDJSON as Bulk Data lines, and the
per-admission truncated Bundles the ingest de-identifies). When an input's own sha256 differs from the frozen one
(the synthetic generator changed), the comparison is skipped for that input, not failed.

Regenerate (only with an implementation known to be right): ``python tests/datasets/_fhir_golden.py``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SYNTHEA = ROOT / ".." / "shared" / "reference" / "fhir-r4-synthea"
GOLDEN = Path(__file__).resolve().parent / "data" / "fhir_deid_golden.json"
SECRET = b"golden-fhir-secret-0123456789abcdef"
SYNTH_SEED = 11
SYNTH_CASES = 6


def result_digest(result) -> str:
    """sha256 over the whole :class:`FhirResult`, key order included (so "byte-identical" means it)."""
    doc = {
        "bundle": result.bundle,
        "resources": None if result.bundle is not None else list(result.resources),
        "quarantined": [[q.reason.value, q.detail] for q in result.quarantined],
        "patients": [dataclasses.asdict(p) for p in result.patients],
    }
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def synthea_cases() -> Iterator[tuple[str, str, object]]:
    """(name, input sha256, thunk returning the FhirResult) for the Synthea bundles."""
    from datasets.deid import FhirOptions, Pseudonymizer, deidentify_bundle, deidentify_ndjson

    paths = sorted(SYNTHEA.glob("*.json")) if SYNTHEA.exists() else []
    raws = {p.name: p.read_bytes() for p in paths}
    ext = [e["fullUrl"] for name, raw in raws.items() if not name[0].isupper() for e in json.loads(raw)["entry"]]
    for name, raw in raws.items():
        yield (f"synthea/{name}", _sha(raw), lambda raw=raw: deidentify_bundle(
            raw, pseudonymizer=Pseudonymizer(SECRET), site="G01", external_fullurls=ext))
        yield (f"synthea-dated/{name}", _sha(raw), lambda raw=raw: deidentify_bundle(
            json.loads(raw), pseudonymizer=Pseudonymizer(SECRET), site="G02", external_fullurls=ext,
            options=FhirOptions(age_reference_date=dt.date(2015, 6, 1), validate="none")))
    lines: list[str] = []
    for name, raw in raws.items():
        bundle = json.loads(raw)
        targets = {e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
        targets.update({u: "Organization/" + u.rsplit(":", 1)[-1] for u in ext})
        for e in bundle["entry"]:
            text = json.dumps(e["resource"], ensure_ascii=False)
            for u, t in targets.items():
                if u in text:
                    text = text.replace(f'"{u}"', f'"{t}"')
            lines.append(text)
    if lines:
        joined = "\n".join(lines)
        yield ("synthea-ndjson", _sha(joined), lambda: deidentify_ndjson(
            joined, pseudonymizer=Pseudonymizer(SECRET), site="G03"))


def synthetic_cases(export: Path) -> Iterator[tuple[str, str, object]]:
    """(name, input sha256, thunk) for every site of a synthetic export: NDJSON and the ingest's case Bundles."""
    from datasets.corpus._fhir_view import AdmissionIndex, case_bundle
    from datasets.corpus._reference import read_reference
    from datasets.deid import FhirOptions, Pseudonymizer, deidentify_bundle, deidentify_ndjson

    for site_dir in sorted(p for p in export.iterdir() if p.is_dir()):
        site = site_dir.name
        files = sorted((site_dir / "fhir").glob("*.ndjson"))
        raw = b"".join(f.read_bytes() for f in files)
        if not raw:
            continue
        yield (f"synthetic-ndjson/{site}", _sha(raw), lambda raw=raw, site=site: deidentify_ndjson(
            raw, pseudonymizer=Pseudonymizer(SECRET), site=site))
        ref = site_dir / "reference" / "aki-48h.csv"
        if not ref.exists():
            continue
        resources = [json.loads(line) for line in raw.splitlines() if line.strip()]
        index = AdmissionIndex.build(resources)
        for row in read_reference(ref, "aki-48h").rows:
            tb = case_bundle(index, mrn=row.mrn, visit_number=row.visit_number, index_time=row.index_time)
            if tb is None:
                continue
            text = json.dumps(tb.bundle, ensure_ascii=False, sort_keys=False)
            opts = FhirOptions(age_reference_date=row.index_time.date())
            yield (f"synthetic-case/{site}/{row.visit_number}", _sha(text),
                   lambda b=tb.bundle, site=site, opts=opts: deidentify_bundle(
                       b, pseudonymizer=Pseudonymizer(SECRET), site=site, options=opts))


def make_export(directory: Path) -> Path:
    """The synthetic export of all sites the golden file was frozen on."""
    from datasets.synthetic import generate_export

    out = directory / "export"
    generate_export(out, sites="all", cases=SYNTH_CASES, seed=SYNTH_SEED, image_size=64)
    return out


def main() -> None:  # pragma: no cover - run by hand to freeze outputs
    import tempfile

    sys.path.insert(0, str(ROOT))
    golden: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        export = make_export(Path(tmp))
        for name, sha_in, run in [*synthea_cases(), *synthetic_cases(export)]:
            golden[name] = {"input": sha_in, "output": result_digest(run())}
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(golden)} digests -> {GOLDEN}")


if __name__ == "__main__":  # pragma: no cover
    main()
