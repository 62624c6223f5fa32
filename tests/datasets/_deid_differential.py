"""Inputs on which the compiled and the pure-Python FHIR de-identification must agree exactly, and the outputs as text.

:func:`outputs` runs every case and returns, per case name, the whole :class:`FhirResult` serialised with its key
order (or the exception a caller error raised). Run as a script with ``CLINVAL_PURE_PYTHON=1`` it prints that
mapping as JSON, so a test running the compiled modules in its own process can compare it with the pure modules'
output byte for byte.

Cases: the Synthea reference bundles (as bytes, as dicts under an age reference date, as NDJSON), the synthetic
export of every site (NDJSON and the ingest's per-case Bundles), hand-written hostile inputs (duplicate keys,
2000-deep nesting as text and as dicts, bad references, keys that are not strings, values of the wrong type, a
Patient whose name is nested 2000 deep), and seeded random mutations of Synthea resources (every value type in
every position the mutator reaches).

Usage: ``CLINVAL_PURE_PYTHON=1 python tests/datasets/_deid_differential.py [EXPORT_DIR]``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET = b"differential-secret-0123456789abcdef"
MUTATION_SEED = 20261127
_WEIRD = (None, 0, -1, 1.5, True, "", " ", "x", "2020-13-45", "urn:uuid:nope", "#nowhere", "Patient/",
          "9999999999", [], {}, [None], [[]], {"a": {}}, {"reference": 7}, {"resourceType": "Basic"}, 10**30)


def serialise(run: Callable[[], object]) -> str:
    """The result of ``run()`` as text, key order included; a raised exception as its type and message."""
    try:
        result = run()
    except Exception as exc:  # caller errors (OptionsError, SecretError) must be the same too
        return f"raised {type(exc).__name__}: {exc}"
    doc = {
        "bundle": result.bundle,
        "resources": None if result.bundle is not None else list(result.resources),
        "quarantined": [[q.reason.value, q.detail] for q in result.quarantined],
        "patients": [dataclasses.asdict(p) for p in result.patients],
    }
    try:
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=repr)
    except (TypeError, ValueError):  # keys json cannot write (e.g. a tuple): repr keeps order and types
        return repr(doc)


def _nested(depth: int, leaf: object) -> object:
    node = leaf
    for i in range(depth):
        node = {"k": node} if i % 2 else [node]
    return node


def _hostile() -> Iterator[tuple[str, Callable[[], object]]]:
    from datasets.deid import FhirOptions, Pseudonymizer, deidentify_bundle, deidentify_fhir_resource
    from datasets.deid import deidentify_ndjson

    def pseudo() -> Pseudonymizer:
        return Pseudonymizer(SECRET)

    def obs(subject: object = "Patient/p1", **extra: object) -> dict:
        return {"resourceType": "Observation", "id": "o1", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "2160-0"}], "text": "Creatinine"},
                "subject": {"reference": subject}, "effectiveDateTime": "2020-03-01T10:00:00Z",
                "valueQuantity": {"value": 1.2, "unit": "mg/dL", "system": "http://unitsofmeasure.org",
                                  "code": "mg/dL"}, **extra}

    patient = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-05-01",
               "name": [{"family": "Zhang", "given": ["Wei"]}],
               "identifier": [{"type": {"coding": [{"code": "MR"}]}, "system": "urn:mrn", "value": "MRN-1"}]}

    def bundle(*resources: object, urls: tuple = ()) -> dict:
        entries = []
        for i, r in enumerate(resources):
            url = urls[i] if i < len(urls) else f"urn:uuid:00000000-0000-4000-8000-{i:012d}"
            entries.append({"fullUrl": url, "resource": r})
        return {"resourceType": "Bundle", "type": "collection", "entry": entries}

    yield "hostile/duplicate-key", lambda: deidentify_bundle(
        '{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": '
        '{"resourceType": "Patient", "id": "a", "id": "b"}}]}', pseudonymizer=pseudo(), site="H01")
    yield "hostile/deep-text", lambda: deidentify_bundle(
        '{"resourceType": "Bundle", "type": "collection", "x": ' + "[" * 2000 + "]" * 2000 + "}",
        pseudonymizer=pseudo(), site="H01")
    for name, text in [("not-json", "{not json"), ("bad-utf8", b"\xff\xfe\x00"), ("array", "[]"),
                       ("no-entries", '{"resourceType": "Patient"}'), ("nan", '{"resourceType": "Bundle", '
                       '"entry": [{"resource": {"resourceType": "Observation", "id": "o", "valueDecimal": NaN}}]}')]:
        yield f"hostile/text-{name}", lambda text=text: deidentify_bundle(text, pseudonymizer=pseudo(), site="H01")
    for depth in (2000, 130, 60):
        for max_depth in (64, 128):
            yield f"hostile/deep-dict-{depth}-{max_depth}", lambda d=depth, m=max_depth: deidentify_fhir_resource(
                obs(note_like=_nested(d, "x")), pseudonymizer=pseudo(), site="H01",
                options=FhirOptions(max_depth=m))
    deep_name = copy.deepcopy(patient)
    deep_name["name"] = [{"family": _nested(2000, "Zhang")}]
    yield "hostile/deep-patient-name", lambda: deidentify_bundle(
        bundle(deep_name, obs()), pseudonymizer=pseudo(), site="H01")
    yield "hostile/deep-patient-name-resource", lambda: deidentify_fhir_resource(
        deep_name, pseudonymizer=pseudo(), site="H01")
    for ref in ["Patient/../../etc/passwd", "../Patient/1", "Patient/", "urn:uuid:not-a-uuid", "file:///etc/passwd",
                "Patient?name=Zhang", "NotAType/1", "javascript:alert(1)", "", "#", "#c1", "Patient?identifier=|x",
                "https://h.example/fhir/Patient/p1/_history/2", "urn:uuid:44444444-4444-4444-8444-444444444444",
                7, None, ["Patient/p1"]]:
        yield f"hostile/ref-{ref!r}", lambda ref=ref: deidentify_bundle(
            bundle(patient, obs(ref)), pseudonymizer=pseudo(), site="H01", options=FhirOptions(validate="all"))
    odd_keys = [{"resourceType": "Observation", "id": "o1", 1: "x"}, {"resourceType": "Observation", "id": "o1",
                ("a",): "x"}, {"resourceType": "Observation", "id": "o1", None: "x"},
                {"resourceType": "Observation", "id": "o1", "": "x"}, obs(code={1: "x"}), obs(code={"coding": [{2: 1}]})]
    for i, res in enumerate(odd_keys):
        yield f"hostile/odd-keys-{i}", lambda res=res: deidentify_fhir_resource(res, pseudonymizer=pseudo(),
                                                                                site="H01")
    odd = [obs(meta="x"), obs(meta={"security": "abc"}), obs(meta={"security": [1, "x", {"code": "PSEUDED"}]}),
           obs(extension="x"), obs(extension=[1, {"url": 2}]), obs(modifierExtension={}),
           obs(identifier=[1]), obs(identifier={"value": 3}), obs(contained="x"), obs(contained=[{"id": 1}]),
           obs(contained=[{"resourceType": "Medication", "id": "m1", "code": {"text": "x"}}],
               medicationReference={"reference": "#m1"}),
           {"resourceType": 7, "id": "o"}, {"resourceType": "Resource", "id": "o"}, {"id": "o"},
           obs(id=["o"]), obs(id="bad id!"), obs(effectiveDateTime="2020"), obs(effectiveDateTime=" "),
           obs(issued="2020-02-30T00:00:00Z"), obs(valueQuantity={"value": "Zhang-7", "code": "x"}),
           obs(subject={"reference": "Patient/p1", "display": "Wei Zhang"}), obs(performer=[{"display": "Dr X"}]),
           obs(component=[{"code": {"coding": "x", "text": 5}}]), obs(uid="1.2.3"), obs(uid="1.02"),
           obs(subject=[{"reference": "Patient/p1"}])]
    for i, res in enumerate(odd):
        yield f"hostile/odd-values-{i}", lambda res=res: deidentify_fhir_resource(res, pseudonymizer=pseudo(),
                                                                                  site="H01")
    yield "hostile/odd-values-bundle", lambda: deidentify_bundle(
        bundle(patient, *odd, 5, None, "x"), pseudonymizer=pseudo(), site="H01")
    yield "hostile/non-dict-entries", lambda: deidentify_bundle(
        {"resourceType": "Bundle", "entry": [1, None, "x", [], {"resource": 5}, {"fullUrl": 3, "resource": obs()},
                                             {"fullUrl": "ftp://x", "resource": obs()}]},
        pseudonymizer=pseudo(), site="H01")
    for i, arg in enumerate([[], None, "x", 5, patient]):
        yield f"hostile/resource-arg-{i}", lambda arg=arg: deidentify_fhir_resource(
            arg, pseudonymizer=pseudo(), site="H01", patient_mrn="MRN-9")
    lines = [json.dumps(patient), json.dumps(obs()), "{not json", '{"a": 1, "a": 2}', "[" * 3000 + "]" * 3000,
             json.dumps(obs("Patient/other")), "", "  ", json.dumps(obs(_nested(200, 1)))]
    yield "hostile/ndjson", lambda: deidentify_ndjson("\n".join(lines), pseudonymizer=pseudo(), site="H01")
    yield "hostile/bad-site", lambda: deidentify_fhir_resource(obs(), pseudonymizer=pseudo(), site="")
    yield "hostile/bad-max-depth", lambda: deidentify_fhir_resource(
        obs(), pseudonymizer=pseudo(), site="H01", options=FhirOptions(max_depth=129))


def _mutate(node: object, rng: random.Random) -> object:
    """A copy of ``node`` with values replaced, keys renamed or removed at random (about one place in twelve)."""
    if isinstance(node, dict):
        out: dict = {}
        for k, v in node.items():
            roll = rng.random()
            if roll < 0.02:
                continue
            if roll < 0.03:
                k = rng.choice([1, "", "_" + k, k.upper()])
            out[k] = rng.choice(_WEIRD) if rng.random() < 0.06 else _mutate(v, rng)
        return out
    if isinstance(node, list):
        return [rng.choice(_WEIRD) if rng.random() < 0.06 else _mutate(v, rng) for v in node]
    return node


def _mutations() -> Iterator[tuple[str, Callable[[], object]]]:
    from tests.datasets._fhir_golden import SYNTHEA

    from datasets.deid import FhirOptions, Pseudonymizer, deidentify_bundle

    paths = sorted(SYNTHEA.glob("[A-Z]*.json")) if SYNTHEA.exists() else []
    if not paths:
        return
    source = json.loads(paths[0].read_bytes())
    for i in range(4):
        rng = random.Random(MUTATION_SEED + i)
        mutated = {**source, "entry": [_mutate(e, rng) for e in source["entry"]]}
        yield f"mutated/{i}", lambda b=mutated: deidentify_bundle(
            b, pseudonymizer=Pseudonymizer(SECRET), site="M01", options=FhirOptions(validate="all"))


def cases(export: Path | None) -> Iterator[tuple[str, Callable[[], object]]]:
    """Every (name, thunk) the two implementations must agree on."""
    from tests.datasets._fhir_golden import synthea_cases, synthetic_cases

    for name, _, run in synthea_cases():
        yield name, run
    if export is not None:
        for name, _, run in synthetic_cases(export):
            yield name, run
    yield from _hostile()
    yield from _mutations()


def outputs(export: Path | None) -> dict[str, str]:
    """Case name -> :func:`serialise` of its result, for every case."""
    return {name: serialise(run) for name, run in cases(export)}


def main() -> None:
    sys.path.insert(0, str(ROOT))
    export = Path(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] else None
    from datasets.deid import implementation

    doc = {"implementation": implementation().name, "outputs": outputs(export)}
    sys.stdout.write(json.dumps(doc, ensure_ascii=False))


if __name__ == "__main__":
    main()
