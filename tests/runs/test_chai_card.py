"""The CHAI-style Applied Model Card export: the schema's element order, every required element filled, metric
values read back exactly from the report, the viewer's suppression kept, and the CLI writes it."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest

from validation.reports import build_report, render
from validation.runs import evaluate

NS = "{https://mc.chai.org/v0.2/schema.xsd}"
# Element order of the CHAI Applied Model Card schema v0.2 (coalition-for-health-ai/mc-schema, v0.2/schema.xsd);
# optional elements are marked with '?'.
ORDER = {
    "AppliedModelCard": ["BasicInfo", "ReleaseInfo", "ModelSummary", "UsesAndDirections", "Warnings",
                         "TrustIngredients", "KeyMetrics", "Resources", "Bibliography"],
    "BasicInfo": ["ModelName", "ModelDeveloper", "DeveloperContact"],
    "ReleaseInfo": ["ReleaseStage", "ReleaseDate", "ReleaseVersion", "GlobalAvailability", "EHRCompatibility?",
                    "RegulatoryApproval?"],
    "ModelSummary": ["Summary", "Keywords"],
    "UsesAndDirections": ["IntendedUseAndWorkflow", "PrimaryIntendedUsers", "HowToUse", "TargetedPatientPopulation",
                          "CautionedOutOfScopeSettings"],
    "Warnings": ["KnownRisksAndLimitations", "KnownBiasesOrEthicalConsiderations", "ClinicalRiskLevel"],
    "TrustIngredients": ["AISystemFacts", "TransparencyInformation"],
    "AISystemFacts": ["OutcomesAndOutputs", "ModelType", "FoundationModels?", "InputDataSource",
                      "OutputAndInputDataTypes", "DevelopmentDataCharacterization", "BiasMitigationApproaches",
                      "OngoingMaintenance", "Security?", "Transparency?"],
    "TransparencyInformation": ["FundingSource", "ThirdPartyInformation?", "StakeholdersConsulted"],
    "KeyMetrics": ["UsefulnessUsabilityEfficacy", "FairnessEquity", "SafetyReliability"],
    "Resources": ["EvaluationReferences?", "ClinicalTrial?", "PeerReviewedPublications", "ReimbursementStatus?",
                  "PatientConsentOrDisclosure"],
}
METRIC_BLOCK = ["MetricGoal", "Results", "Interpretation", "TestType", "TestingDataDescription",
                "ValidationProcessAndJustification"]


def _check_order(el, expected: list[str]) -> None:
    names = [c.tag.removeprefix(NS) for c in el]
    want = [e.rstrip("?") for e in expected]
    positions = [want.index(n) for n in names]  # ValueError: an element the schema does not have here
    assert positions == sorted(positions), f"{el.tag}: out of schema order: {names}"
    missing = [e for e in expected if not e.endswith("?") and e not in names]
    assert not missing, f"{el.tag}: required elements missing: {missing}"


def _walk(el) -> None:
    tag = el.tag.removeprefix(NS)
    if tag in ORDER:
        _check_order(el, ORDER[tag])
    if tag in ("UsefulnessUsabilityEfficacy", "FairnessEquity", "SafetyReliability"):
        _check_order(el, METRIC_BLOCK)
    if len(el) == 0 and tag not in ("Bibliography",):
        assert (el.text or "").strip(), f"{tag} is empty"
    for child in el:
        _walk(child)


@pytest.fixture(scope="module")
def scored(world):
    platform, people, submission, corpus = world
    return evaluate(platform, people["admin"], submission, corpus, batch_size=20)


def test_card_follows_the_schema_and_reads_back_the_report(world, scored):
    platform, people, _, _ = world
    report = build_report(platform, people["admin"], scored.id)
    raw = render(report, "chai")
    assert raw == render(report, "chai"), "deterministic"
    root = ElementTree.fromstring(raw)
    assert root.tag == f"{NS}AppliedModelCard"
    _walk(root)
    values = [json.loads(v.text) for v in root.iter(f"{NS}ValueJson")]
    pooled = {r["metric"]: r for r in report.to_dict()["pooled"]}
    auroc = next(v for v in values if v["metric"] == "auroc" and v["group_kind"] == "overall")
    assert auroc["estimate"] == pooled["auroc"]["estimate"] and auroc["ci_low"] == pooled["auroc"]["ci_low"]
    statuses = {v["criterion"]: v["status"] for v in report.verdicts}
    text = raw.decode("utf-8")
    for criterion, status in statuses.items():
        assert f"{criterion} {status.upper()}" in text or (status == "pass" and "Every pre-registered" in text)
    assert report.hashes["results_sha256"] in text and report.model["model_sha256"] in text


def test_vendor_card_keeps_suppressed_cells_hidden(world, scored):
    platform, people, _, _ = world
    report = build_report(platform, people["vendor"], scored.id)
    assert report.view["suppressed_cells"] > 0
    root = ElementTree.fromstring(render(report, "chai"))
    hidden = {(r["group_kind"], r["group"]) for r in report.subgroups if r["suppressed"] and r["metric"] == "auroc"}
    shown = [json.loads(v.text) for v in root.iter(f"{NS}ValueJson")]
    for v in shown:
        if (v["group_kind"], v["group"]) in hidden:
            assert v["estimate"] is None and v["n"] is None


def test_cli_writes_the_card(world, scored, tmp_path):
    from click.testing import CliRunner

    from validation.cli import cli

    platform = world[0]
    out = tmp_path / "card.xml"
    env = {"CLINVAL_HOME": str(platform.settings.home), "CLINVAL_TOKEN": None}  # the local operator (admin)
    result = CliRunner().invoke(cli, ["report", scored.id, "--format", "chai", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert ElementTree.fromstring(out.read_bytes()).tag == f"{NS}AppliedModelCard"
    result = CliRunner().invoke(cli, ["report", scored.id, "--format", "docx", "--out", str(out)], env=env)
    assert result.exit_code == 2 and "chai" in result.output
