"""`make crossval`: Rasa's 3-fold cross-validation of the NLU pipeline, with reproducible folds.

Rasa draws its folds with an unseeded `StratifiedKFold(shuffle=True)`, so two runs on the same data
differed by a few thousandths. Seeding NumPy's global generator first (`--seed`, default 0) makes a
run repeatable; run several seeds to see the spread (docs/nlu.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold draw")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--out", default="var/crossval")
    args = parser.parse_args()

    import numpy
    from rasa.__main__ import main as rasa_main

    numpy.random.seed(args.seed)
    sys.argv = ["rasa", "test", "nlu", "--config", "config.yml", "--nlu", "nlu_data/nlu", "--cross-validation",
                "--folds", str(args.folds), "--out", args.out]
    try:
        rasa_main()
    except SystemExit as stop:
        if stop.code:
            return int(stop.code)
    report = json.loads((Path(args.out) / "intent_report.json").read_text())
    print(f"crossval (seed {args.seed}, {args.folds} folds) intent accuracy {report['accuracy']:.4f}  "
          f"macro-F1 {report['macro avg']['f1-score']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
