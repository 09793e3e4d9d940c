"""Tests for `manage.py parse_835`: JSON output and one-line errors with exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[2]


def run_command(*paths: Path | str) -> list[dict]:
    out = StringIO()
    call_command("parse_835", *[str(p) for p in paths], stdout=out)
    return json.loads(out.getvalue())


def test_command_prints_one_remittance_per_transaction_across_files():
    result = run_command(DATA / "835_full_payment.x12", DATA / "835_pipe_separators.x12", DATA / "835_reversal_plb.x12")
    assert [(r["payer"]["name"], r["payment"]["trace_number"]) for r in result] == [
        ("BLUE HERON HEALTH", "EFT20250321001"),
        ("CEDAR MUTUAL", "FWT0415CDM001"),
        ("CEDAR MUTUAL", "CHK5550001"),
        ("BLUE HERON HEALTH", "EFT20250402007"),
    ]


def test_command_output_shape_for_a_partial_payment():
    [r] = run_command(DATA / "835_partial_payment.x12")
    assert r["payer"] == {"name": "SUNFIELD HEALTH", "id": "SFH55"}
    assert r["payee"] == {"name": "MAPLE GROVE FAMILY MEDICINE", "npi": "1234567893"}
    assert r["payment"] == {"amount": "196.00", "method": "CHK", "trace_number": "CHK100234", "date": "2025-03-22"}
    first, second = r["claims"]
    assert {
        "patient_control_number",
        "status_code",
        "charge",
        "paid",
        "patient_responsibility",
        "payer_claim_number",
        "adjustments",
        "lines",
    } <= set(first)
    assert (first["patient_control_number"], first["status_code"], first["payer_claim_number"]) == (
        "PCN2001",
        "1",
        "SFH0322A01",
    )
    assert (first["charge"], first["paid"], first["patient_responsibility"]) == ("250.00", "131.00", "64.00")
    assert first["adjustments"] == []
    line = first["lines"][0]
    assert {"procedure", "modifiers", "charge", "paid", "adjustments", "remarks"} <= set(line)
    assert (line["procedure"], line["modifiers"], line["charge"], line["paid"]) == ("99214", [], "200.00", "96.00")
    assert line["adjustments"] == [
        {"group": "CO", "reason": "45", "amount": "40.00"},
        {"group": "PR", "reason": "1", "amount": "50.00"},
        {"group": "PR", "reason": "2", "amount": "14.00"},
    ]
    assert second["adjustments"] == [{"group": "PR", "reason": "3", "amount": "25.00"}]
    assert second["lines"][0]["remarks"] == ["N130"]
    assert r["warnings"] == []


def test_command_output_for_reversal_modifiers_and_provider_adjustments():
    [r] = run_command(DATA / "835_reversal_plb.x12")
    reversal = r["claims"][0]
    assert (reversal["status_code"], reversal["charge"], reversal["paid"]) == ("22", "-120.00", "-80.00")
    assert reversal["patient_responsibility"] is None
    assert reversal["lines"][0]["modifiers"] == ["25"]
    assert r["claims"][2]["lines"][0]["modifiers"] == ["GP", "59"]
    assert r["provider_adjustments"] == [
        {"reason": "WO", "reference": "OVP-PCN3999", "amount": "25.00"},
        {"reason": "L6", "reference": "INT0402", "amount": "-1.50"},
    ]


def test_command_keeps_amounts_as_the_file_writes_them_and_a_missing_date_as_null(tmp_path):
    [denial] = run_command(DATA / "835_denial.x12")
    assert denial["payment"]["amount"] == "0"  # "as given", not re-formatted to 0.00
    assert denial["claims"][0]["paid"] == "0"
    undated = tmp_path / "undated.x12"
    undated.write_text((DATA / "835_denial.x12").read_text().replace("************20250325~", "~"))
    [r] = run_command(undated)
    assert r["payment"]["date"] is None


def test_command_reports_imbalances_in_the_json(tmp_path):
    short = tmp_path / "short_payment.x12"
    short.write_text((DATA / "835_full_payment.x12").read_text().replace("BPR*I*150.00", "BPR*I*149.00"))
    [r] = run_command(short)
    assert r["warnings"] == ["BPR02 payment 149.00 does not equal claims paid 150.00 - provider adjustments 0 = 150.00"]
    assert r["payment"]["amount"] == "149.00"


def test_command_missing_file_writes_one_line_and_exits_2():
    err = StringIO()
    with pytest.raises(SystemExit) as caught:
        call_command("parse_835", "/nonexistent/835.x12", stderr=err)
    assert caught.value.code == 2
    assert err.getvalue().strip() == "parse_835: /nonexistent/835.x12: No such file or directory"


def _run_cli(*paths: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "manage.py", "parse_835", *map(str, paths)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("SE*25*0001", "SE*24*0001"), "transaction set 0001: SE01 says 24 segments but ST..SE has 25"),
        (
            ("*150.00*150.00**12*", "*150.00*1S0.00**12*"),
            "835 transaction 0001, segment 17 (CLP): CLP04 '1S0.00' is not a number",
        ),
    ],
)
def test_cli_malformed_file_exits_2_with_one_line_and_no_traceback(tmp_path, change, problem):
    bad = tmp_path / "bad.x12"
    bad.write_text((DATA / "835_full_payment.x12").read_text().replace(*change))
    proc = _run_cli(DATA / "835_denial.x12", bad)
    assert proc.returncode == 2
    assert proc.stdout == ""  # nothing half-printed for the good file before the bad one
    assert proc.stderr.strip().splitlines() == [f"parse_835: {bad}: {problem}"]
    assert "Traceback" not in proc.stderr


def test_cli_truncated_isa_exits_2(tmp_path):
    bad = tmp_path / "truncated.x12"
    bad.write_text((DATA / "835_full_payment.x12").read_text()[:50])
    proc = _run_cli(bad)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"parse_835: {bad}: ISA segment is truncated: found 6 of 16 elements"
    assert "Traceback" not in proc.stderr


def test_cli_good_file_prints_json():
    proc = _run_cli(DATA / "835_pipe_separators.x12")
    assert proc.returncode == 0, proc.stderr
    first, second = json.loads(proc.stdout)
    assert first["payment"] == {
        "amount": "200.00",
        "method": "FWT",
        "trace_number": "FWT0415CDM001",
        "date": "2025-04-15",
    }
    assert second["claims"][0]["status_code"] == "2"
    assert proc.stdout.startswith('[\n  {\n    "payer"')  # indent 2
