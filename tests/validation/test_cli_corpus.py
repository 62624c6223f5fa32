"""``clinval corpus synth``: the CLI over the synthetic centre."""

from __future__ import annotations

import json

from click.testing import CliRunner

from validation.cli import cli


def test_synth_writes_the_requested_sites_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "export"
    args = ["corpus", "synth", "--out", str(out), "--sites", "H03,DEV", "--cases", "4", "--image-size", "64",
            "--workers", "1"]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["sites"] == ["DEV", "H03"]
    assert {(c["site"], c["task"]): c["cases"] for c in summary["counts"]} == {
        ("DEV", "cxr-pneumonia"): 4, ("DEV", "aki-48h"): 4, ("H03", "cxr-pneumonia"): 4, ("H03", "aki-48h"): 4}
    assert len(list((out / "H03" / "dicom").rglob("*.dcm"))) == 4
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 2 and "not empty" in again.output and "Traceback" not in again.output
    assert CliRunner().invoke(cli, [*args, "--force"]).exit_code == 0


def test_synth_names_a_bad_site(tmp_path):
    result = CliRunner().invoke(cli, ["corpus", "synth", "--out", str(tmp_path / "x"), "--sites", "H99"])
    assert result.exit_code == 2 and "H99" in result.output
