"""`rasa data validate` is clean and `rasa test` passes the test stories with no prediction error."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RASA = str(Path(sys.executable).parent / "rasa")
ENV = {**os.environ, "ACTION_PORT": os.environ.get("ACTION_PORT", "5055"), "PYTHONPATH": str(ROOT)}


def test_data_validates_and_every_unused_response_is_sent_by_code() -> None:
    result = subprocess.run(
        [RASA, "data", "validate", "--data", "nlu_data", "--domain", "domain.yml", "--config", "config.yml"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "No story structure conflicts found" in output
    unused = set(re.findall(r"The utterance '(\w+)' is not used in any story or rule", output))
    code = "\n".join(p.read_text(encoding="utf-8") for d in ("actions", "bot") for p in (ROOT / d).rglob("*.py"))
    forms = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["forms"]
    asked = {f"utter_ask_{slot}" for form in forms.values() for slot in form["required_slots"]}
    assert {name for name in unused - asked if f'"{name}"' not in code} == set()
    other_warnings = [line for line in output.splitlines() if "UserWarning" in line and "is not used in any story" not in line]
    assert other_warnings == []


def test_test_stories_pass_without_prediction_errors(tmp_path: Path) -> None:
    result = subprocess.run(
        [RASA, "test", "core", "--model", "var/models/current.tar.gz", "--stories", "tests/stories",
         "--fail-on-prediction-errors", "--out", str(tmp_path)],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    stories = sum(
        len(yaml.safe_load(path.read_text(encoding="utf-8"))["stories"]) for path in (ROOT / "tests" / "stories").glob("*.yml")
    )
    assert stories >= 60
    assert f"Correct:          {stories} / {stories}" in result.stdout + result.stderr
