"""Reading a request body with a size limit, for channels whose routes stream.

Sanic reads up to 100 MB before a handler runs; a streamed route with this reader
stops at the channel's own limit (WeChat and REST: 64 KiB) and answers 413 early.
"""

from __future__ import annotations

from typing import List

from sanic.request import Request


class RequestTooLarge(Exception):
    """The body exceeds the channel's limit (→ 413)."""


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body, or `RequestTooLarge` as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge()
    if request.body:  # a non-streaming route: Sanic has read it already
        if len(request.body) > limit:
            raise RequestTooLarge()
        return bytes(request.body)
    chunks: List[bytes] = []
    size = 0
    async for chunk in request.stream:
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)
