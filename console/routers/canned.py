"""Canned replies (常用语): supervisors manage them; agents get them filled in for a ticket."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from console import canned
from console.deps import CurrentAgent, CurrentSupervisor, SessionDep, SettingsDep
from console.repository import get_ticket
from console.routers.tickets import TicketNo
from console.schemas.canned import CannedReplyCreate, CannedReplyFilled, CannedReplyOut, CannedReplyUpdate

router = APIRouter(prefix="/api", tags=["canned replies"])

ReplyId = Annotated[int, Path(ge=1, le=2_147_483_647)]
_SUPERVISOR_ONLY = {403: {"description": "needs a supervisor account"}}


@router.get("/canned-replies", response_model=list[CannedReplyOut], summary="Canned replies (templates)")
def list_replies(
    session: SessionDep, agent: CurrentAgent,
    include_inactive: Annotated[bool, Query(description="supervisors: the switched-off ones too")] = False,
) -> list[CannedReplyOut]:
    everything = include_inactive and agent.role == "supervisor"
    return [CannedReplyOut.model_validate(r) for r in canned.list_replies(session, include_inactive=everything)]


@router.post("/canned-replies", response_model=CannedReplyOut, status_code=status.HTTP_201_CREATED,
             summary="Add a canned reply (supervisors)",
             responses={**_SUPERVISOR_ONLY, 400: {"description": "unknown variable"},
                        409: {"description": "the shortcut is taken"}})
def create_reply(body: CannedReplyCreate, session: SessionDep, supervisor: CurrentSupervisor) -> CannedReplyOut:
    reply = canned.create_reply(session, body.shortcut, body.title, body.text, body.category)
    session.commit()
    return CannedReplyOut.model_validate(reply)


@router.patch("/canned-replies/{reply_id}", response_model=CannedReplyOut,
              summary="Change or switch off a canned reply (supervisors)",
              responses={**_SUPERVISOR_ONLY, 404: {"description": "no such reply"}})
def update_reply(
    reply_id: ReplyId, body: CannedReplyUpdate, session: SessionDep, supervisor: CurrentSupervisor
) -> CannedReplyOut:
    reply = canned.update_reply(session, canned.get_reply(session, reply_id), body.changes())
    session.commit()
    return CannedReplyOut.model_validate(reply)


@router.get("/tickets/{ticket_no}/canned-replies", response_model=list[CannedReplyFilled],
            summary="The canned replies for one ticket, variables filled from it",
            responses={404: {"description": "no such ticket"}})
def replies_for_ticket(
    ticket_no: TicketNo, session: SessionDep, settings: SettingsDep, agent: CurrentAgent,
    q: Annotated[str | None, Query(max_length=32, description="filter: shortcut, title or text contains this")] = None,
) -> list[CannedReplyFilled]:
    ticket = get_ticket(session, ticket_no)
    values = canned.ticket_values(ticket, agent, str(settings.city().get("hotline") or ""))
    needle = (q or "").strip().lower()
    filled = []
    for reply in canned.list_replies(session, category=ticket.category):
        if needle and needle not in f"{reply.shortcut} {reply.title} {reply.text}".lower():
            continue
        text, missing = canned.render(reply.text, values)
        filled.append(CannedReplyFilled(id=reply.id, shortcut=reply.shortcut, title=reply.title,
                                        category=reply.category, text=text, missing=missing))
    return filled
