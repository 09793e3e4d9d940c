"""Tests for `manage.py parse_271`: JSON output and one-line errors with exit status 2."""

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
    call_command("parse_271", *[str(p) for p in paths], stdout=out)
    return json.loads(out.getvalue())


def test_command_prints_one_object_per_subscriber_or_dependent_across_files():
    result = run_command(
        DATA / "271_active_family.x12", DATA / "271_dependent.x12", DATA / "271_rejected_member_id.x12"
    )
    assert [(r["first_name"], r["status"]) for r in result] == [
        ("AVERY", "active"),
        ("DELPHINE", "unknown"),
        ("PIP", "active"),
        ("TOBIAS", "rejected"),
    ]


def test_command_output_format_for_an_active_member():
    [r] = run_command(DATA / "271_active_family.x12")
    assert r["payer"] == {"name": "BLUE HERON HEALTH", "id": "BHH01"}
    assert r["member_id"] == "BHX448810217"
    assert (r["first_name"], r["last_name"], r["birth_date"]) == ("AVERY", "QUILLFEATHER", "1980-04-02")
    assert (r["status"], r["plan_begin"], r["plan_end"]) == ("active", "2025-01-01", "2025-12-31")
    assert r["rejections"] == []
    assert r["benefits"][1] == {
        "code": "B",
        "coverage_level": "IND",
        "service_types": ["98"],
        "time_period": "27",
        "amount": "25.00",
        "percent": None,
        "in_network": True,
    }
    assert r["benefits"][3]["amount"] == "75"  # "as given", not re-formatted to 75.00
    assert r["benefits"][3]["in_network"] is None
    assert r["benefits"][10]["percent"] == "0.4"
    assert r["benefits"][10]["in_network"] is False
    assert {
        "payer",
        "member_id",
        "first_name",
        "last_name",
        "birth_date",
        "status",
        "plan_begin",
        "plan_end",
        "benefits",
        "rejections",
    } <= set(r)


def test_command_output_for_a_rejection_and_a_dependent():
    [rejected] = run_command(DATA / "271_rejected_member_id.x12")
    assert rejected["rejections"] == [
        {"reason": "72", "follow_up": "C", "message": "Member ID invalid: correct and resubmit"}
    ]
    assert rejected["benefits"] == []
    assert rejected["plan_begin"] is None
    _, dependent = run_command(DATA / "271_dependent.x12")
    assert dependent["member_id"] == "SFH55120933"
    assert dependent["benefits"][4]["percent"] == "0.1"


def test_command_missing_file_writes_one_line_and_exits_2():
    err = StringIO()
    with pytest.raises(SystemExit) as caught:
        call_command("parse_271", "/nonexistent/271.x12", stderr=err)
    assert caught.value.code == 2
    assert err.getvalue().strip() == "parse_271: /nonexistent/271.x12: No such file or directory"


def _run_cli(path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "manage.py", "parse_271", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_malformed_file_exits_2_with_one_line_and_no_traceback(tmp_path):
    bad = tmp_path / "bad_se.x12"
    bad.write_text((DATA / "271_rejected_member_id.x12").read_text().replace("SE|12|0001", "SE|11|0001"))
    proc = _run_cli(bad)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"parse_271: {bad}: transaction set 0001: SE01 says 11 segments but ST..SE has 12"]
    assert "Traceback" not in proc.stderr


def test_cli_not_x12_exits_2(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("Dear payer,\nplease call us.\n")
    proc = _run_cli(bad)
    assert proc.returncode == 2
    assert (
        proc.stderr.strip() == f"parse_271: {bad}: input does not start with an ISA segment (starts with 'Dear payer,')"
    )


def test_cli_good_file_prints_json():
    proc = _run_cli(DATA / "271_source_unavailable.x12")
    assert proc.returncode == 0, proc.stderr
    [r] = json.loads(proc.stdout)
    assert r["status"] == "rejected"
    assert r["rejections"][0]["reason"] == "42"
