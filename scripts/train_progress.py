"""Shows `rasa train`'s progress while it writes var/train.log: the component being trained,
epoch x/y, the time elapsed and tqdm's estimate of what is left for that component.

    python scripts/train_progress.py var/train.log --pid <rasa train's pid>

One line rewritten in place on a terminal; on a pipe (CI, a test) a line whenever the component
or a tenth of its epochs changed. Standard library only; exits when the process is gone.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, TextIO

COMPONENT = re.compile(r"(Starting to train|Restored) component '([^']+)'")
EPOCH = re.compile(r"Epochs:\s+\d+%\|[^|]*\|\s*(\d+)/(\d+) \[[^<\]]*<([^,\]]+)")


@dataclass(frozen=True)
class Progress:
    component: str
    epoch: int
    epochs: int
    eta: str
    cached: bool = False


def parse(log: str) -> Optional[Progress]:
    """The latest component and epoch counter in a (partial) `rasa train` log."""
    matches = list(COMPONENT.finditer(log))
    if not matches:
        return None
    last = matches[-1]
    component = last.group(2)
    if last.group(1) == "Restored":
        return Progress(component, 0, 0, "", cached=True)
    epochs = EPOCH.findall(log[last.end():].replace("\r", "\n"))
    if not epochs:
        return Progress(component, 0, 0, "?")
    done, total, eta = epochs[-1]
    return Progress(component, int(done), int(total), eta.strip())


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def render(progress: Progress, elapsed: float) -> str:
    if progress.cached:
        return f"training: {progress.component} restored from cache (elapsed {clock(elapsed)})"
    if not progress.epochs:
        return f"training: {progress.component} ... (elapsed {clock(elapsed)})"
    return (f"training: {progress.component} epoch {progress.epoch}/{progress.epochs}, "
            f"elapsed {clock(elapsed)}, ETA {progress.eta} for this component")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def follow(path: Path, pid: int, out: TextIO, interval: float = 2.0) -> None:
    started = time.monotonic()
    tty = out.isatty()
    shown: Optional[Progress] = None
    while alive(pid):
        time.sleep(interval)
        try:
            progress = parse(path.read_text(encoding="utf-8", errors="replace"))
        except FileNotFoundError:
            continue
        if progress is None:
            continue
        line = render(progress, time.monotonic() - started)
        if tty:
            out.write("\r\x1b[K" + line)
        elif shown is None or (progress.component, progress.epoch * 10 // max(progress.epochs, 1)) != (
            shown.component, shown.epoch * 10 // max(shown.epochs, 1)
        ):
            out.write(line + "\n")
        else:
            continue
        out.flush()
        shown = progress
    if tty and shown is not None:
        out.write("\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args()
    follow(args.log, args.pid, sys.stdout, args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
