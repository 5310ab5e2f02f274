"""Reminder campaigns (supervisors): plan with a preview, send, follow the tally, read the rows."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from sqlalchemy.orm import Session

from console.deps import AsyncRedisDep, CurrentSupervisor, SessionDep, SessionFactoryDep, SettingsDep
from console.reminders import planner, service
from console.reminders.schemas import CampaignIn, CampaignOut, SendOut, State, campaign_out, send_out
from console.settings import Settings

logger = logging.getLogger("console.reminders")

router = APIRouter(prefix="/api/reminders", tags=["reminders"])

CampaignId = Annotated[int, Path(ge=1, le=2_147_483_647)]
_RESPONSES = {403: {"description": "needs a supervisor account"}, 404: {"description": "no such campaign"}}


def _out(session: Session, settings: Settings, campaign_id: int) -> CampaignOut:
    campaign = service.get_campaign(session, campaign_id)
    return campaign_out(campaign, service.tally(session, campaign_id), service.in_quiet_hours(settings))


@router.post(
    "/campaigns",
    response_model=CampaignOut,
    status_code=status.HTTP_201_CREATED,
    summary="Plan a campaign and preview it (nothing is sent until POST …/send)",
    responses={**_RESPONSES, 503: {"description": "the billing API does not answer"}},
)
async def plan_campaign(
    body: CampaignIn,
    settings: SettingsDep,
    factory: SessionFactoryDep,
    redis: AsyncRedisDep,
    supervisor: CurrentSupervisor,
) -> CampaignOut:
    spec = planner.Spec(kind=body.kind, district=body.district, min_arrears=body.min_arrears, days=body.days)
    async with service.bulk_billing_client(settings) as billing:
        campaign_id = await service.plan_campaign(settings, factory, billing, redis, spec, supervisor.id)
    logger.info("supervisor %s planned reminder campaign %s (%s)", supervisor.username, campaign_id, body.kind)
    with factory() as session:
        return _out(session, settings, campaign_id)


@router.get("/campaigns", response_model=list[CampaignOut], summary="Recent campaigns, newest first",
            responses=_RESPONSES)
def list_campaigns(session: SessionDep, settings: SettingsDep, supervisor: CurrentSupervisor) -> list[CampaignOut]:
    quiet = service.in_quiet_hours(settings)
    return [campaign_out(c, service.tally(session, c.id), quiet) for c in service.list_campaigns(session)]


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut, summary="One campaign with its live tally",
            responses=_RESPONSES)
def read_campaign(campaign_id: CampaignId, session: SessionDep, settings: SettingsDep,
                  supervisor: CurrentSupervisor) -> CampaignOut:
    return _out(session, settings, campaign_id)


@router.post(
    "/campaigns/{campaign_id}/send",
    response_model=CampaignOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start sending (idempotent: a campaign already sending or done sends nothing again)",
    responses={**_RESPONSES, 409: {"description": "the campaign was cancelled"}},
)
def send_campaign(campaign_id: CampaignId, session: SessionDep, settings: SettingsDep,
                  supervisor: CurrentSupervisor) -> CampaignOut:
    service.start_sending(session, campaign_id)
    logger.info("supervisor %s started reminder campaign %s", supervisor.username, campaign_id)
    return _out(session, settings, campaign_id)


@router.post("/campaigns/{campaign_id}/cancel", response_model=CampaignOut,
             summary="Cancel: rows still queued are never sent", responses=_RESPONSES)
def cancel_campaign(campaign_id: CampaignId, session: SessionDep, settings: SettingsDep,
                    supervisor: CurrentSupervisor) -> CampaignOut:
    service.cancel(session, campaign_id)
    return _out(session, settings, campaign_id)


@router.get("/campaigns/{campaign_id}/sends", response_model=list[SendOut],
            summary="The per-household record (state, API used, errcode, the text sent)", responses=_RESPONSES)
def campaign_sends(
    campaign_id: CampaignId,
    session: SessionDep,
    supervisor: CurrentSupervisor,
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[SendOut]:
    service.get_campaign(session, campaign_id)
    return [send_out(row) for row in service.sends(session, campaign_id, state, limit, offset)]
