"""Hypothesis strategies shared by the stack-level fuzz tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

#: Text a resident might send, plus the awkward parts of Unicode.
CHINESE = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
AWKWARD = st.sampled_from(
    ["\x00", "\u200b", "\ufeff", "\u202e", "\ud7ff", "\U0001F525", "😡", "\r\n", "\t", "<", "&", "]]>", "'", '"',
     "\\", "%s", "{0}", "${x}", "户号", "2024000001", "5678", "转人工", "滞纳金"]
)
ANY_CHAR = st.characters(blacklist_categories=("Cs",))
RESIDENT_TEXT = st.lists(
    st.one_of(st.text(st.one_of(CHINESE, ANY_CHAR), min_size=1, max_size=8), AWKWARD), max_size=10
).map("".join)
LONG_TEXT = st.text(st.one_of(CHINESE, ANY_CHAR), min_size=1900, max_size=2100)

JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False), RESIDENT_TEXT,
)


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    return st.recursive(
        JSON_SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=12), children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


def shaped(keys: dict) -> st.SearchStrategy[dict]:
    """Dicts with the expected keys (each maybe missing, each of a right or wrong type)."""
    return st.fixed_dictionaries({}, optional={key: st.one_of(strategy, json_values(4)) for key, strategy in keys.items()})
