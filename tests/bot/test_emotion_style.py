"""The style view of the emotion detector: calm markers and a one-hot length bucket (docs/nlu.md)."""

from __future__ import annotations

from bot.nlu.emotion import style_features


def test_length_is_one_bucket_not_a_number() -> None:
    rows = style_features(["在吗", "暖气不热 麻烦派人看看", "我家老人今年八十多了 一冷腿就疼 想问问今年大概啥时候开始供暖 我们好提前准备准备 谢谢了"])
    buckets = rows.toarray()[:, 2:]
    assert buckets.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]


def test_calm_markers_politeness_and_family() -> None:
    polite, family, plain = style_features(["麻烦您查一下", "孙子怕冻着", "查欠费"]).toarray()[:, :2]
    assert polite.tolist() == [1, 0]
    assert family.tolist() == [0, 1]
    assert plain.tolist() == [0, 0]


def test_the_threshold_weighs_precision_as_beta_says() -> None:
    """Out-of-fold scores where a low threshold buys the last 3 of 20 angry messages with 2 false
    alarms: F1 takes that trade, β = 0.7 (precision about twice recall, issue 10's goals) does not."""
    import numpy as np

    from bot.nlu.emotion import best_threshold

    angry = np.array([True] * 20 + [False] * 80)
    scores = np.concatenate([np.full(17, 0.9), np.full(3, 0.45), np.full(2, 0.45), np.full(78, 0.1)])
    assert best_threshold(scores, angry, beta=1.0) <= 0.45
    assert best_threshold(scores, angry, beta=0.7) > 0.45
