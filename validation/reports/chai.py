"""The facts of a run's report as a CHAI-style Applied Model Card (XML).

The element names and their order follow the Coalition for Health AI's draft Applied Model Card schema, version
0.2 (``https://mc.chai.org/v0.2/schema.xsd``, repository ``coalition-for-health-ai/mc-schema``): BasicInfo,
ReleaseInfo, ModelSummary, UsesAndDirections, Warnings, TrustIngredients, KeyMetrics, Resources, Bibliography. Only
facts the report already holds are written, for the same viewer (suppressed cells stay suppressed); what clinval
cannot know (funding, regulatory status, maintenance plans) is said to be not stated rather than invented. Metric
results are JSON (``ValueJson``) so that a consumer can read them back exactly.
"""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree

from validation.reports.model import Report

__all__ = ["CHAI_NAMESPACE", "to_chai_card"]

CHAI_NAMESPACE = "https://mc.chai.org/v0.2/schema.xsd"
_NOT_STATED = "Not stated to the validation platform."


def _metric_value(row: dict) -> dict:
    keys = ("metric", "group_kind", "group", "estimate", "ci_low", "ci_high", "ci_method", "n", "n_pos", "n_neg",
            "note")
    return {k: row.get(k) for k in keys}


def _add(parent, tag: str, text: str | None = None):
    el = ElementTree.SubElement(parent, f"{{{CHAI_NAMESPACE}}}{tag}")
    if text is not None:
        el.text = text
    return el


def _results(parent, rows: list[dict]) -> None:
    results = _add(parent, "Results")
    if not rows:
        rows = [{"metric": "none", "note": "no result of this kind in the report"}]
    for row in rows:
        item = _add(results, "MetricResult")
        label = f"{row.get('metric')} ({row.get('group_kind', 'overall')}: {row.get('group', 'all')})"
        _add(item, "Label", label)
        _add(item, "ValueJson", json.dumps(_metric_value(row), sort_keys=True, allow_nan=False))


def _rules_for(d: dict, metrics: set[str]) -> list[dict]:
    """The verdicts whose rule is about one of ``metrics`` (the rule's leading name, e.g. ``site_gap`` in
    ``site_gap.auroc <= 0.15``, ``sensitivity`` in ``sensitivity@threshold.ci_low >= 0.8``)."""
    return [v for v in d["verdicts"] if re.split(r"[.@\s<>=!]", v["rule"].strip(), maxsplit=1)[0] in metrics]


def _goal(verdicts: list[dict]) -> str:
    if not verdicts:
        return "No pre-registered acceptance criterion of this kind."
    return "; ".join(f"{v['criterion']}: {v['rule']}" for v in verdicts)


def _interpretation(verdicts: list[dict]) -> str:
    if not verdicts:
        return "Reported for information; no acceptance criterion applies."
    return "; ".join(f"{v['criterion']} {v['status'].upper()}" for v in verdicts)


def to_chai_card(report: Report) -> bytes:
    """The report's facts as an Applied Model Card XML document (UTF-8 bytes, deterministic)."""
    d = report.to_dict()
    model, proto, corpus, flow = d["model"], d["protocol"], d["corpus"], d["participant_flow"]
    use = d["intended_use"]
    ElementTree.register_namespace("mc", CHAI_NAMESPACE)
    root = ElementTree.Element(f"{{{CHAI_NAMESPACE}}}AppliedModelCard")

    basic = _add(root, "BasicInfo")
    _add(basic, "ModelName", f"{model['model_name']} {model['model_version']}")
    _add(basic, "ModelDeveloper", str(model["vendor"]))
    _add(basic, "DeveloperContact", str(use.get("contact") or _NOT_STATED))

    release = _add(root, "ReleaseInfo")
    _add(release, "ReleaseStage", f"Independent multi-site clinical validation (clinval run {d['run_id']}, "
                                  f"state {d['run']['state']}, complete: {d['run']['complete']})")
    _add(release, "ReleaseDate", str(d["run"]["created_at"])[:10])
    _add(release, "ReleaseVersion", str(model["model_version"]))
    _add(release, "GlobalAvailability", _NOT_STATED)

    summary = _add(root, "ModelSummary")
    _add(summary, "Summary", f"{proto['title']}. Evaluated against the pre-registered protocol {proto['id']} "
                             f"version {proto['version']} on {len(d['run']['sites'])} sites.")
    keywords = _add(summary, "Keywords")
    for word in (proto["task"], proto["input"].get("view"), *(proto["input"].get("modalities") or [])):
        if word:
            _add(keywords, "Keyword", str(word))

    uses = _add(root, "UsesAndDirections")
    _add(uses, "IntendedUseAndWorkflow", str(use.get("model_card") or use.get("protocol") or _NOT_STATED).strip())
    _add(uses, "PrimaryIntendedUsers", str(use.get("protocol") or _NOT_STATED).strip())
    _add(uses, "HowToUse", f"One score in [0, 1] per case; a case is called positive at or above the declared "
                           f"operating threshold {model['threshold']}.")
    _add(uses, "TargetedPatientPopulation", f"Cases of the protocol's task ({proto['task']}) at the validation "
                                            f"sites {', '.join(d['run']['sites'])}; subgroups examined: "
                                            f"{', '.join(proto['subgroups']) or 'none'}.")
    failing_sites = sorted({s["group"] for s in d["sites"] if s.get("metric") == d["forest"]["metric"]
                            and s.get("estimate") is not None and s.get("ci_high") is not None
                            and (d["forest"].get("pooled") or {}).get("estimate") is not None
                            and s["ci_high"] < d["forest"]["pooled"]["estimate"]})
    _add(uses, "CautionedOutOfScopeSettings",
         ("Sites whose upper confidence bound lies below the pooled estimate: " + ", ".join(failing_sites) + ".")
         if failing_sites else "No site performed clearly below the pooled estimate in this validation.")

    warnings = _add(root, "Warnings")
    failed = [v for v in d["verdicts"] if v["status"] != "pass"]
    _add(warnings, "KnownRisksAndLimitations",
         ("Acceptance criteria not met: " + "; ".join(f"{v['criterion']} ({v['rule']}): {v['status']}"
                                                      for v in failed)) if failed
         else "Every pre-registered acceptance criterion was met.")
    gaps = [g for g in d["site_gaps"] if g.get("estimate") is not None]
    _add(warnings, "KnownBiasesOrEthicalConsiderations",
         "Largest differences between sites: " + "; ".join(f"{g['metric']} {g['estimate']:.3f}" for g in gaps)
         if gaps else "No site differences could be estimated.")
    _add(warnings, "ClinicalRiskLevel", "Not assessed by the validation platform.")

    trust = _add(root, "TrustIngredients")
    facts = _add(trust, "AISystemFacts")
    _add(facts, "OutcomesAndOutputs", f"A score in [0, 1] for {proto['label'].get('name')} (reference standard: "
                                      f"{proto['label'].get('reference_standard')}).")
    _add(facts, "ModelType", "MLflow pyfunc model supplied by the vendor; run in an isolated sandbox "
                             f"({d['run'].get('isolation') or 'unknown isolation'}).")
    _add(facts, "InputDataSource", f"De-identified corpus {corpus.get('id')} ({corpus.get('name')}).")
    _add(facts, "OutputAndInputDataTypes", f"Input: {proto['input'].get('view')}; output: score per case.")
    training = use.get("training_data")
    if isinstance(training, dict):
        training = training.get("summary") or json.dumps(training, sort_keys=True)
    _add(facts, "DevelopmentDataCharacterization", str(training or _NOT_STATED).strip())
    _add(facts, "BiasMitigationApproaches", _NOT_STATED)
    _add(facts, "OngoingMaintenance", _NOT_STATED)
    _add(facts, "Security", "Model files hashed at submission and re-checked before every run "
                            f"(sha256 {model['model_sha256']}); no network inside the sandbox.")
    _add(facts, "Transparency", "Results sha256 {results_sha256}; protocol sha256 {protocol_sha256}; corpus "
                                "{corpus_id}.".format(**d["hashes"]))
    info = _add(trust, "TransparencyInformation")
    _add(info, "FundingSource", _NOT_STATED)
    signers = "; ".join(f"{s['org']} ({s['meaning']})" for s in d["signoffs"])
    _add(info, "StakeholdersConsulted", f"Hospital reviewers who signed the report: {signers}." if signers
         else "No hospital sign-off yet.")

    metrics = _add(root, "KeyMetrics")
    test_type = "Retrospective external validation, multi-site, pre-registered acceptance criteria"
    data_desc = (f"{flow.get('scored')} cases scored at {len(d['run']['sites'])} sites "
                 f"({len(flow.get('failed_sites') or [])} failed); small groups suppressed below "
                 f"{d['view']['min_cell']} cases for this view.")
    process = (f"Protocol {proto['id']} v{proto['version']} (sha256 {proto['sha256']}) fixed before the run; "
               "intervals by DeLong (AUROC), Wilson (proportions) and stratified bootstrap (calibration).")
    groups = (
        ("UsefulnessUsabilityEfficacy", [r for r in d["pooled"] if r["metric"] in
                                         ("auroc", "sensitivity", "specificity", "ppv", "npv", "accuracy",
                                          "average_precision")],
         {"auroc", "sensitivity", "specificity", "ppv", "npv", "accuracy", "average_precision"}),
        ("FairnessEquity", [r for r in d["subgroups"] + d["sites"] if r["metric"] == d["forest"]["metric"]],
         {"site_gap"}),
        ("SafetyReliability", [r for r in d["pooled"] if r["metric"] in
                               ("brier", "ece", "calibration_slope", "calibration_intercept")],
         {"brier", "ece", "calibration_slope", "calibration_intercept"}),
    )
    for tag, rows, names in groups:
        block = _add(metrics, tag)
        rules = _rules_for(d, names)
        _add(block, "MetricGoal", _goal(rules))
        _results(block, rows)
        _add(block, "Interpretation", _interpretation(rules))
        _add(block, "TestType", test_type)
        _add(block, "TestingDataDescription", data_desc)
        _add(block, "ValidationProcessAndJustification", process)

    resources = _add(root, "Resources")
    _add(resources, "EvaluationReferences", f"clinval report of run {d['run_id']}; results sha256 "
                                            f"{d['hashes']['results_sha256']}.")
    _add(resources, "PeerReviewedPublications", _NOT_STATED)
    _add(resources, "PatientConsentOrDisclosure", "Retrospective de-identified data; no patient-level data "
                                                  "leaves the platform.")
    _add(root, "Bibliography", "")
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
