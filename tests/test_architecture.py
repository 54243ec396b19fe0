"""The layering of docs/architecture.md holds: the import contracts pass, and only the policy reads grants."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ["directorate", "accounts", "economy", "tickets", "attachments", "analytics", "nyx", "desk"]


def test_the_import_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_app_is_under_a_contract():
    config = (ROOT / ".importlinter").read_text()
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "tests_mongo_smoke", "benchmarks"}
    assert packages == set(APPS)
    for app in APPS:
        assert re.search(rf"^\s+{app}\s*$", config, re.M), app


def test_no_module_outside_the_policy_reads_a_grant():
    readers = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if path == ROOT / "accounts" / "policy.py" or "migrations" in path.parts:
                continue
            if re.search(r"\bgrant_for\b|\bReach\b|\bMATRIX\b", path.read_text()):
                readers.append(str(path.relative_to(ROOT)))
    assert readers == []
