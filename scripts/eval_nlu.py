"""`make eval`: intent accuracy, macro-F1, confusions and anger precision/recall on the held-out split."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.nlu.evaluation import evaluate  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("var/models/current.tar.gz"))
    parser.add_argument("--data", type=Path, default=Path("tests/data/nlu_heldout"))
    parser.add_argument("--out", type=Path, default=Path("var/eval.json"))
    args = parser.parse_args()

    report = evaluate(args.model, args.data)
    anger = report.anger()
    print(f"held-out examples : {len(report.cases)}")
    print(f"intent accuracy   : {report.intent_accuracy:.4f}")
    print(f"intent macro-F1   : {report.macro_f1:.4f}")
    print(f"anger precision   : {anger['precision']:.4f}  recall: {anger['recall']:.4f}  "
          f"(tp={anger['tp']} fp={anger['fp']} fn={anger['fn']} of {anger['n']})")
    print("\nanger precision/recall by threshold:")
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        sweep = report.anger(threshold)
        print(f"  {threshold:.1f}: precision {sweep['precision']:.4f}  recall {sweep['recall']:.4f}")
    print("\nintent confusions (true → predicted: count):")
    for (true, predicted), count in report.confusions():
        print(f"  {true} → {predicted}: {count}")
    print("\nintent × emotion (true emotion → detected):")
    for intent, row in report.intent_by_emotion().items():
        print(f"  {intent:22s} " + "  ".join(f"{k}:{v}" for k, v in sorted(row.items())))
    print("\nmisclassified examples:")
    for case in report.errors():
        print(f"  [{case.intent}/{case.emotion}] → [{case.predicted_intent}/{case.predicted_emotion} "
              f"{case.anger_score:.2f}] {case.text}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "examples": len(report.cases), "intent_accuracy": report.intent_accuracy,
        "macro_f1": report.macro_f1, "anger": anger, "f1_per_intent": report.intent_f1(),
    }, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
