"""What `make run` shows an operator, piece by piece: the environment wins over the generated
demo file, third-party warnings are dropped (ours kept), and training reports its progress."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.stack import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

from run import WarningFilter, load_demo_env  # noqa: E402
from train_progress import parse, render  # noqa: E402

SITE = "/work/main/.venv/rasa/lib/python3.10/site-packages"
# Shapes copied from a real `rasa run` log: a one-line message, a message with a continuation
# line, Rasa's own coloured format without a source line, and one of our own warnings.
PROCESS_OUTPUT = f"""\
{SITE}/rasa/shared/utils/validation.py:134: DeprecationWarning: pkg_resources is deprecated as an API.
  import pkg_resources
{SITE}/pkg_resources/__init__.py:3117: DeprecationWarning: Deprecated call to `pkg_resources.declare_namespace('ruamel')`.
Implementing implicit namespace packages (as specified in PEP 420) is preferred to `pkg_resources.declare_namespace`.
  declare_namespace(pkg)
\x1b[93m{SITE}/rasa/shared/utils/io.py:100: UserWarning: The utterance 'utter_x' is not used in any story or rule.
\x1b[0m2026-11-30 09:47:49 INFO     root  - Starting Rasa server on http://0.0.0.0:5005
{ROOT}/bot/nlu/emotion.py:77: UserWarning: the anger lexicon is empty
  warnings.warn("the anger lexicon is empty")
2026-11-30 09:48:10 INFO     root  - Rasa server is up and running.
"""


def test_third_party_warnings_are_dropped_and_ours_kept() -> None:
    keep = WarningFilter()
    shown = [line for line in PROCESS_OUTPUT.splitlines() if keep.keep(line)]
    assert shown == [
        "\x1b[0m2026-11-30 09:47:49 INFO     root  - Starting Rasa server on http://0.0.0.0:5005",
        f"{ROOT}/bot/nlu/emotion.py:77: UserWarning: the anger lexicon is empty",
        '  warnings.warn("the anger lexicon is empty")',
        "2026-11-30 09:48:10 INFO     root  - Rasa server is up and running.",
    ]


def test_the_environment_wins_and_the_demo_file_fills_the_rest(tmp_path: Path) -> None:
    demo = tmp_path / "demo.env"
    script = ROOT / "scripts" / "demo_env.sh"
    first = dict(os.environ, CONSOLE_ADMIN_PASSWORD="operator-choice-1")
    subprocess.run([str(script), str(demo)], env=first, check=True)
    generated = demo.read_text()
    assert "operator-choice-1" not in generated  # the file holds generated values only
    subprocess.run([str(script), str(demo)], env=first, check=True)
    assert demo.read_text() == generated  # kept across runs

    assert load_demo_env(demo, first)["CONSOLE_ADMIN_PASSWORD"] == "operator-choice-1"
    second = dict(first, CONSOLE_ADMIN_PASSWORD="operator-choice-2", RASA_TOKEN="token-from-env")
    settings = load_demo_env(demo, second)
    assert settings["CONSOLE_ADMIN_PASSWORD"] == "operator-choice-2" and settings["RASA_TOKEN"] == "token-from-env"
    unset = {key: value for key, value in os.environ.items() if key not in ("CONSOLE_ADMIN_PASSWORD", "RASA_TOKEN")}
    from_file = load_demo_env(demo, unset)
    assert f"CONSOLE_ADMIN_PASSWORD={from_file['CONSOLE_ADMIN_PASSWORD']}\n" in generated
    assert len(from_file["CONSOLE_ADMIN_PASSWORD"]) == 16 and from_file["CONSOLE_ADMIN_USER"]
    assert load_demo_env(demo, dict(unset, CONSOLE_ADMIN_PASSWORD=""))["CONSOLE_ADMIN_PASSWORD"] == (
        from_file["CONSOLE_ADMIN_PASSWORD"]  # an empty variable counts as unset
    )


TRAIN_LOG = (
    "2026-11-30 09:18:30 INFO     rasa.engine.training.hooks  - Starting to train component 'HeatingJiebaTokenizer'.\n"
    "2026-11-30 09:18:43 INFO     rasa.engine.training.hooks  - Starting to train component 'DIETClassifier'.\n"
    "Epochs:   0%|          | 0/60 [00:00<?, ?it/s]\r"
    "Epochs:   2%|▏         | 1/60 [01:18<1:16:55, 78.23s/it]\r"
    "Epochs:  32%|███▏      | 19/60 [03:59<05:26,  7.97s/it, t_loss=2.69, i_acc=0.999, e_f1=0.941]"
)


def test_training_progress_names_the_component_epoch_and_eta() -> None:
    assert parse("2026-11-30 09:17:59 INFO     rasa.cli.train  - Started validating") is None
    line = render(parse(TRAIN_LOG), 245)  # type: ignore[arg-type]
    assert line == "training: DIETClassifier epoch 19/60, elapsed 4m05s, ETA 05:26 for this component"
    restored = TRAIN_LOG + "\n2026-11-30 09:20:00 INFO     rasa.engine.training.hooks  - Restored component 'TEDPolicy' from cache.\n"
    assert "TEDPolicy restored from cache" in render(parse(restored), 1)  # type: ignore[arg-type]
    untrained = TRAIN_LOG + "\n2026-11-30 09:21:00 INFO     rasa.engine.training.hooks  - Starting to train component 'TEDPolicy'.\n"
    assert render(parse(untrained), 60) == "training: TEDPolicy ... (elapsed 1m00s)"  # type: ignore[arg-type]


def test_a_process_that_dies_is_named_with_its_last_lines_and_nothing_says_ready(tmp_path: Path) -> None:
    """scripts/run.py over real honcho with a Procfile whose billing process fails at start."""
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        f"billing: {sys.executable} -c \"print('cannot open the billing database'); raise SystemExit(3)\"\n"
        f"console: {sys.executable} -c \"import time; time.sleep(60)\"\n"
    )
    env = dict(os.environ, RASA_PORT="1", ACTION_PORT="1", CONSOLE_PORT="1", BILLING_PORT="1")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run.py"), "--procfile", str(procfile), "--demo-env",
         str(tmp_path / "none.env"), "--timeout", "60"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "HeatDesk is ready" not in result.stdout
    error = result.stdout[result.stdout.index("error: HeatDesk did not start"):]
    assert error.startswith("error: HeatDesk did not start: the billing process exited")
    assert "billing | cannot open the billing database" in error
