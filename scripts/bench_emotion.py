"""What the emotion detector costs per message, next to the whole NLU parse (issue 7, `make bench`).

Runs in the Rasa environment (`.venv/rasa/bin/python scripts/bench_emotion.py --model M`),
loads the trained model in-process, and for every message (a JSON list of strings on
stdin or in `--messages`) times:

* the whole NLU parse (`Agent.parse_message`: tokenizer, regex entities, the intent classifier, the
  emotion detector, fallback), in-process so that HTTP is not part of it;
* `EmotionDetector.score` of the model's own detector instance, and inside it the
  character/word/lexicon classifier and the anger lexicon separately.

Prints one JSON object on stdout; logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """Linear-interpolated percentile (q in 0..100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: Sequence[float]) -> Dict[str, Optional[float]]:
    """p50/p95/p99/mean of durations given in seconds, in milliseconds (3 decimals)."""

    def ms(value: Optional[float]) -> Optional[float]:
        return None if value is None else round(value * 1000.0, 3)

    return {
        "p50": ms(percentile(seconds, 50)),
        "p95": ms(percentile(seconds, 95)),
        "p99": ms(percentile(seconds, 99)),
        "mean": ms(statistics.fmean(seconds)) if seconds else None,
    }


def find_emotion_detector(agent: Any) -> Any:
    """The EmotionDetector instance inside the loaded model graph.

    Rasa 3.6 keeps the graph's nodes on the DaskGraphRunner (`_instantiated_nodes`,
    each with its `_component`); there is no public accessor, and this helper only
    benchmarks, so reaching in is acceptable here.
    """
    from bot.nlu.emotion import EmotionDetector

    runner = agent.processor.graph_runner
    for node in getattr(runner, "_instantiated_nodes", {}).values():
        component = getattr(node, "_component", None)
        if isinstance(component, EmotionDetector):
            return component
    raise LookupError("the model has no bot.nlu.emotion.EmotionDetector")


async def measure(model: Path, read_texts: Callable[[], List[str]], warmup: int) -> Dict[str, Any]:
    """Loads the model first, then reads the messages: a caller can start this process early
    and send the messages only when the machine is otherwise quiet."""
    from rasa.core.agent import Agent

    from bot.nlu.anger_lexicon import cue_scores

    started = time.perf_counter()
    agent = Agent.load(str(model))
    load_s = time.perf_counter() - started
    detector = find_emotion_detector(agent)
    texts = read_texts()
    if not texts:
        raise ValueError("no messages given")
    classifier = detector._classifier  # noqa: SLF001 - timed on its own below

    for text in texts[:warmup]:
        await agent.parse_message(text)
        detector.score(text)

    parse: List[float] = []
    score: List[float] = []
    classify: List[float] = []
    lexicon: List[float] = []
    angry = 0
    clock = time.perf_counter
    for text in texts:
        t0 = clock()
        result = await agent.parse_message(text)
        t1 = clock()
        detector.score(text)
        t2 = clock()
        if classifier is not None:
            classifier.predict_proba([text])
        t3 = clock()
        cue_scores(text)
        t4 = clock()
        parse.append(t1 - t0)
        score.append(t2 - t1)
        classify.append(t3 - t2)
        lexicon.append(t4 - t3)
        if (result.get("emotion") or {}).get("name") == "angry":
            angry += 1

    mean_parse = statistics.fmean(parse)
    mean_score = statistics.fmean(score)
    return {
        "model": str(model),
        "messages": len(texts),
        "model_load_s": round(load_s, 2),
        "parse_in_process_ms": summary_ms(parse),
        "emotion_score_ms": summary_ms(score),
        "emotion_classifier_ms": summary_ms(classify),
        "emotion_lexicon_ms": summary_ms(lexicon),
        "emotion_share_of_parse": round(mean_score / mean_parse, 4) if mean_parse else None,
        "angry_messages": angry,
        "has_classifier": classifier is not None,
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "var" / "models" / "current.tar.gz")
    parser.add_argument("--messages", type=Path, help="JSON list of texts (default: read it from stdin)")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured parses first (default 10)")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries the JSON result only
        result = _run(args)
    if result is None:
        return 2
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _run(args: argparse.Namespace) -> Optional[Dict[str, Any]]:
    # As `rasa run` does at INFO: without it structlog prints a debug line per parse,
    # and that printing would be timed as part of the parse.
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)

    def read_texts() -> List[str]:
        raw = args.messages.read_text(encoding="utf-8") if args.messages else sys.stdin.read()
        return [str(text) for text in json.loads(raw or "[]") if str(text).strip()]

    try:
        return asyncio.run(measure(args.model.resolve(), read_texts, max(0, args.warmup)))
    except ValueError as error:
        print(f"bench_emotion: {error}", file=sys.stderr)
        return None


if __name__ == "__main__":
    sys.exit(main())
