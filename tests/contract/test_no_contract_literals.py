"""Nothing outside heatdesk_contract spells a Redis key, a stream entry or an owner-hash field.

DESIGN.md: "a Redis key, a stream name or a stream field is spelled once, in a package both
runtimes import". The scan reads the runtime code's syntax tree (docstrings, comments and
``description=`` texts do not count) and refuses, outside the package:
* the key prefix, or the stem of any key the package builds (``owner:``, ``stream:tickets``,
  ``wechat:dedupe:`` …; the stems are taken from ``KeySpace`` itself, so a new key is covered);
* an entry type (``ticket.request`` …) written as the ``type`` of a dict or compared against;
* a dict literal that writes the owner hash, a Lua script that touches its fields, a dead-letter
  field, or a field read from a raw entry (``fields.get("ticket_no")``).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path
from typing import Iterator, List, Set, Tuple

from heatdesk_contract import streams
from heatdesk_contract.keys import DEFAULT_PREFIX, KeySpace

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ("actions", "bot", "connectors", "console", "billing_service", "billing_client", "scripts")

ENTRY_TYPES = frozenset(streams.TICKET_ENTRIES) | frozenset(streams.OUTBOX_ENTRIES)
#: Every field of every entry: reading one from raw ``fields`` is parsing an entry by hand.
ENTRY_FIELDS = frozenset({streams.TYPE_FIELD, "original_id", "error", "consumer"}) | frozenset(
    field.name for entry in [*streams.TICKET_ENTRIES.values(), *streams.OUTBOX_ENTRIES.values()]
    for field in dataclasses.fields(entry))
OWNER_FIELDS = frozenset(field.name for field in dataclasses.fields(__import__(
    "heatdesk_contract.owner", fromlist=["Owner"]).Owner))
_HOLE = "\x00"


def key_stems() -> Set[str]:
    """The constant beginning of every key KeySpace builds (with at least two segments)."""
    space = KeySpace("")
    stems: Set[str] = set()
    for name, method in inspect.getmembers(space, inspect.ismethod):
        if name.startswith("_") or name in ("key", "stream", "openid_of_binding", "rasa_store_prefix"):
            continue
        args = [_HOLE for parameter in inspect.signature(method).parameters.values()
                if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.VAR_POSITIONAL)]
        stem = str(method(*args)).split(_HOLE)[0]
        if ":" in stem and len(stem) > 4:
            stems.add(stem)
    return stems


STEMS = key_stems()


DOC_KEYWORDS = ("description", "summary", "help")


def _documentation(tree: ast.AST) -> Set[int]:
    """Docstrings and documentation arguments (``description=`` of a route, ``help=`` of an option)."""
    ids: Set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
        if isinstance(node, ast.keyword) and node.arg in DOC_KEYWORDS:
            ids.update(id(part) for part in ast.walk(node.value))
    return ids


def _entry_fields(node: ast.AST) -> bool:
    """Whether ``node`` names a raw stream entry (this code base calls them ``fields``)."""
    return isinstance(node, ast.Name) and "fields" in node.id


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def violations_in(source: str, name: str) -> List[Tuple[str, int, str]]:
    """(file, line, why) for every contract spelling in one module's source."""
    tree = ast.parse(source, filename=name)
    documentation = _documentation(tree)
    found: List[Tuple[str, int, str]] = []

    def flag(node: ast.AST, why: str) -> None:
        found.append((name, getattr(node, "lineno", 0), why))

    for node in ast.walk(tree):
        text = _text(node)
        if text is not None and id(node) not in documentation:
            if DEFAULT_PREFIX in text:
                flag(node, f"key prefix in {text[:60]!r}")
            stem = next((s for s in sorted(STEMS) if text.startswith(s)), None)
            if stem is not None:
                flag(node, f"key {stem!r} spelled in {text[:60]!r}")
            if text.startswith(streams.DeadLetter.ORIGINAL):
                flag(node, f"dead-letter field {text!r}")
            if "redis.call(" in text and any(f"'{field}'" in text for field in OWNER_FIELDS):
                flag(node, "Lua script touching the owner hash")
        if isinstance(node, ast.Dict):
            keys = {_text(key) for key in node.keys if key is not None}
            for key, value in zip(node.keys, node.values):
                if key is not None and _text(key) == streams.TYPE_FIELD and _text(value) in ENTRY_TYPES:
                    flag(node, f"stream entry {_text(value)!r} written as a dict")
            if {"owner", "ticket_no"} <= keys:
                flag(node, "owner hash written as a dict")
        if isinstance(node, ast.Compare):
            for operand in [node.left, *node.comparators]:
                if _text(operand) in ENTRY_TYPES:
                    flag(node, f"entry type {_text(operand)!r} compared by hand")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                and _entry_fields(node.func.value) and node.args and _text(node.args[0]) in ENTRY_FIELDS):
            flag(node, f"stream field {_text(node.args[0])!r} read by hand")
        if isinstance(node, ast.Subscript) and _entry_fields(node.value) and _text(node.slice) in ENTRY_FIELDS:
            flag(node, f"stream field {_text(node.slice)!r} read by hand")
    return found


def runtime_files() -> Iterator[Path]:
    for folder in RUNTIME:
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_the_stems_cover_the_keys_of_both_runtimes() -> None:
    assert {"owner:", "ticket_seq:", "stream:tickets", "stream:outbox", "stream:events", "wechat:dedupe:",
            "bind:wechat:", "identity:session:", "stats:conversations:", "widget:transcript:",
            "ratelimit:login:", "remind:optout", "inbox_token:"} <= STEMS
    assert not any(stem in ("wechat:", "widget:", "rest:") for stem in STEMS)  # conversation ids are not keys


def test_runtime_code_spells_no_key_or_stream_field() -> None:
    files = list(runtime_files())
    assert len(files) > 50
    found = [hit for path in files
             for hit in violations_in(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert not found, "spelled outside heatdesk_contract:\n" + "\n".join(f"{f}:{line}: {why}" for f, line, why in found)


PLANTED = '''
"""A docstring may say heatdesk:owner:{id} and ticket.request."""
OWNER = "heatdesk:owner:" + conversation_id
QUEUE = settings.key(f"owner:{conversation_id}")
TOKEN = f"{prefix}wechat:access_token:{appid}"
redis.xadd(stream, {"type": "ticket.request", "ticket_no": number})
redis.hset(key, mapping={"owner": "agent", "ticket_no": number})
if fields.get("type") == "agent.message":
    key = fields.get("idempotency_key") or fields["trigger_text"]
SCRIPT = "redis.call('HSET', KEYS[1], 'ticket_no', ARGV[1])"
record = {"orig." + name: value}
'''


def test_the_scan_finds_planted_spellings() -> None:
    found = violations_in(PLANTED, "planted.py")
    lines = sorted({line for _name, line, _why in found})
    assert lines == [3, 4, 5, 6, 7, 8, 9, 10, 11], found
    assert not violations_in('"""heatdesk:owner:{id}, ticket.request"""\nx = "wechat:" + openid\n', "fine.py")
