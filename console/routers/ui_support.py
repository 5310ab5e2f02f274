"""Small additions the agent console web UI needs beside the resource routers.

``GET /api/events/position`` tells a page where the live event stream stands
*before* it opens ``GET /api/events``. The page then connects with
``?last_event_id=<position>``, so an event written between loading its lists and
its first received event is replayed rather than lost, even when the very first
connection drops before any event arrived (EventSource has no Last-Event-ID yet
then, and a fresh connection without one starts at "now").
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from console.deps import AsyncRedisDep, CurrentAgent, SettingsDep

router = APIRouter(prefix="/api", tags=["events"])


class StreamPosition(BaseModel):
    last_event_id: str = Field(description="id of the newest live event, or 0-0 when there is none yet; "
                               "pass it as ?last_event_id= to GET /api/events")


@router.get(
    "/events/position",
    response_model=StreamPosition,
    summary="Where the live event stream stands now (connect to /api/events after this id)",
    responses={401: {"description": "not logged in"}, 503: {"description": "Redis is unavailable"}},
)
async def events_position(agent: CurrentAgent, settings: SettingsDep, client: AsyncRedisDep) -> StreamPosition:
    newest = await client.xrevrange(settings.keys.events_stream(), count=1)
    return StreamPosition(last_event_id=newest[0][0] if newest else "0-0")
