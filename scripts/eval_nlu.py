"""`make eval`: per held-out set, intent accuracy, macro-F1, per-intent table, confusions,
anger precision/recall and a threshold sweep; JSON figures in var/eval.json."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.nlu.evaluation import Report, evaluate_many  # noqa: E402

SWEEP = (0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8)


def print_report(name: str, report: Report, show_errors: bool) -> Dict[str, Any]:
    """Prints one set's figures and returns them for the JSON file."""
    anger = report.anger()
    print(f"=== {name} ===")
    print(f"examples          : {len(report.cases)}")
    print(f"intent accuracy   : {report.intent_accuracy:.4f}")
    print(f"intent macro-F1   : {report.macro_f1:.4f}")
    print(f"anger precision   : {anger['precision']:.4f}  recall: {anger['recall']:.4f}  "
          f"(tp={anger['tp']} fp={anger['fp']} fn={anger['fn']} of {anger['n']})")
    print("\nanger precision/recall by threshold on the anger score:")
    for threshold in SWEEP:
        sweep = report.anger(threshold)
        print(f"  {threshold:.2f}: precision {sweep['precision']:.4f}  recall {sweep['recall']:.4f}  "
              f"fp={sweep['fp']} fn={sweep['fn']}")
    print("\nper intent (n, precision, recall, F1, most frequent wrong prediction):")
    for intent, row in report.per_intent().items():
        print(f"  {intent:22s} {row['n']:4d}  P {row['precision']:.2f}  R {row['recall']:.2f}  "
              f"F1 {row['f1']:.2f}  {row['top_confusion']}")
    print("\nintent confusions (true → predicted: count):")
    for (true, predicted), count in report.confusions():
        print(f"  {true} → {predicted}: {count}")
    print("\nintent × emotion (true emotion → detected):")
    for intent, row in report.intent_by_emotion().items():
        print(f"  {intent:22s} " + "  ".join(f"{k}:{v}" for k, v in sorted(row.items())))
    if show_errors:
        print("\nmisclassified examples:")
        for case in report.errors():
            print(f"  [{case.intent}/{case.emotion}] → [{case.predicted_intent}/{case.predicted_emotion} "
                  f"{case.anger_score:.2f}] {case.text}")
    print()
    return {
        "examples": len(report.cases), "intent_accuracy": report.intent_accuracy,
        "macro_f1": report.macro_f1, "anger": anger, "per_intent": report.per_intent(),
        "anger_sweep": {f"{t:.2f}": report.anger(t) for t in SWEEP},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("var/models/current.tar.gz"))
    parser.add_argument("--data", type=Path, action="append",
                        help="a held-out set directory (repeatable; default: every tests/data/nlu_heldout*)")
    parser.add_argument("--out", type=Path, default=Path("var/eval.json"))
    parser.add_argument("--errors", action="store_true",
                        help="list every misclassified example (keep off for the independent set: "
                             "look at its errors as families, not sentence by sentence)")
    args = parser.parse_args()
    data_dirs = args.data or sorted(Path("tests/data").glob("nlu_heldout*"))
    data_dirs = [path for path in data_dirs if path.is_dir()]
    if not data_dirs:
        print("no held-out set found", file=sys.stderr)
        return 2

    reports = evaluate_many(args.model, data_dirs)
    figures = {str(path): print_report(str(path), report, args.errors)
               for path, report in zip(data_dirs, reports)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
