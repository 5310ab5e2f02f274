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
