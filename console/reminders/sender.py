"""The console's reminder worker: sends queued rows of campaigns that are sending, one at a time.

Exactly once, by construction:
* a row is claimed by one conditional UPDATE (queued → sending) committed *before* the WeChat
  call, so two workers or a re-run can never both send it;
* a row found in ``sending`` at start-up was cut off mid-call by a crash: WeChat may or may not
  have delivered it, so it is marked failed (errcode -2) and never sent again;
* a refusal that means "nothing was delivered" (rate limits 45009/45011/…, the request never
  reaching WeChat, billing down) puts the row back to queued and pauses the campaign with an
  exponential back-off; a timeout after the request went out is ambiguous and never retried.
Good manners are re-checked at send time: quiet hours, 退订, one reminder per kind per N days,
and a household that paid after the plan gets nothing (``skipped_paid``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from decimal import Decimal

import redis.asyncio as aioredis
from billing_client.client import AccountNotFound, BillingClient, BillingError
from redis.exceptions import RedisError
from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from heatdesk_contract.notices import WidgetNotice
from connectors.wechat_protocol.api import (
    AmbiguousSendError,
    OutsideServiceWindowError,
    QuotaExceededError,
    TokenUnavailableError,
    WeChatAPI,
    WeChatAPIError,
    WeChatTransportError,
)
from console.db import utcnow
from console.reminders import channels, planner, service, widget_notices
from console.reminders.models import REACHED_STATES, Campaign, ReminderSend
from console.settings import Settings

logger = logging.getLogger("console.reminders")

# Refusals after which nothing was delivered and the same send may go again later.
RATE_LIMIT_CODES = frozenset({45009, 45011, 45047})
INTERRUPTED = -2
MAX_BACKOFF_SECONDS = 3600.0
IDLE_SECONDS = 1.0


class Retry(Exception):
    """Nothing was delivered; put the row back and pause the campaign."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def make_wechat(settings: Settings, redis: aioredis.Redis) -> WeChatAPI | None:
    """The shared WeChat API client (same access_token cache as the Rasa side), if configured."""
    if not (settings.WECHAT_APPID and settings.WECHAT_APPSECRET):
        return None
    return WeChatAPI(settings.WECHAT_APPID, settings.WECHAT_APPSECRET.get_secret_value(), redis,
                     base_url=settings.WECHAT_API_BASE, key_prefix=settings.HEATDESK_KEY_PREFIX)


class ReminderSender:
    def __init__(self, settings: Settings, session_factory: sessionmaker[Session], redis: aioredis.Redis,
                 billing: BillingClient, wechat: WeChatAPI | None) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.redis = redis
        self.billing = billing
        self.wechat = wechat

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.to_thread(self.recover)
        while not stop.is_set():
            try:
                worked = await self.step()
            except (RedisError, BillingError) as exc:
                logger.warning("reminder worker: %s; retrying", type(exc).__name__)
                worked = False
            except Exception:  # noqa: BLE001 - the worker must outlive one bad row
                logger.exception("reminder worker step failed")
                worked = False
            if not worked:
                try:
                    await asyncio.wait_for(stop.wait(), IDLE_SECONDS)
                except asyncio.TimeoutError:
                    pass

    def recover(self) -> None:
        """Rows left in `sending` by a crash may have been delivered: never send them again."""
        with self.session_factory() as session:
            result = session.execute(
                update(ReminderSend).where(ReminderSend.state == "sending")
                .values(state="failed", errcode=INTERRUPTED, error="interrupted mid-send; may have been delivered",
                        updated_at=utcnow())
            )
            session.commit()
            if result.rowcount:
                logger.warning("reminders: %d send(s) interrupted by a restart marked failed", result.rowcount)

    async def step(self) -> bool:
        """Send one row; False when there is nothing to do now (quiet hours, paused, idle)."""
        await widget_notices.settle_shown(self.redis, self.settings.keys, self.session_factory)
        if service.in_quiet_hours(self.settings):
            return False
        claimed = await asyncio.to_thread(self._claim)
        if claimed is None:
            return False
        campaign, row = claimed
        await self._send(campaign, row)
        return True

    def _claim(self) -> tuple[Campaign, ReminderSend] | None:
        now = utcnow()
        with self.session_factory() as session:
            campaigns = session.scalars(
                select(Campaign).where(Campaign.status == "sending").order_by(Campaign.id)
            ).all()
            for campaign in campaigns:
                if campaign.paused_until is not None and campaign.paused_until > now:
                    continue
                row_id = session.scalar(
                    select(ReminderSend.id).where(ReminderSend.campaign_id == campaign.id,
                                                  ReminderSend.state == "queued")
                    .order_by(ReminderSend.id).limit(1)
                )
                if row_id is None:
                    self._finish_if_done(session, campaign)
                    continue
                claimed = session.execute(
                    update(ReminderSend).where(ReminderSend.id == row_id, ReminderSend.state == "queued")
                    .values(state="sending", attempts=ReminderSend.attempts + 1, updated_at=now)
                ).rowcount
                session.commit()
                if claimed:
                    return campaign, session.get(ReminderSend, row_id)
            return None

    @staticmethod
    def _finish_if_done(session: Session, campaign: Campaign) -> None:
        busy = session.scalar(select(exists().where(and_(ReminderSend.campaign_id == campaign.id,
                                                          ReminderSend.state.in_(("queued", "sending"))))))
        if not busy:
            session.execute(update(Campaign).where(Campaign.id == campaign.id, Campaign.status == "sending")
                            .values(status="done", finished_at=utcnow(), paused_until=None, pause_reason=None))
            session.commit()

    async def _send(self, campaign: Campaign, row: ReminderSend) -> None:
        try:
            outcome = await self._deliver(campaign, row)
        except Retry as retry:
            await asyncio.to_thread(self._requeue, campaign.id, row, retry.reason)
            return
        except AmbiguousSendError:
            outcome = {"state": "failed", "errcode": INTERRUPTED, "error": "no answer from WeChat; may have been delivered"}
        except WeChatAPIError as exc:
            outcome = {"state": "failed", "errcode": exc.errcode, "error": exc.errmsg[:200]}
        await asyncio.to_thread(self._settle, row.id, outcome)

    async def _deliver(self, campaign: Campaign, row: ReminderSend) -> dict[str, object]:
        """Re-check, then send; returns the row's final values."""
        if row.address is None or await channels.opted_out(self.redis, self.settings.keys, row.channel, row.address):
            return {"state": "opted_out"}
        if await asyncio.to_thread(self._throttled, campaign, row):
            return {"state": "throttled"}
        as_of = self.settings.today()
        try:
            account = await self.billing.get_account(row.account_no)
        except AccountNotFound:
            return {"state": "failed", "error": "account no longer in the billing system"}
        except BillingError as exc:
            raise Retry(f"billing unavailable: {type(exc).__name__}") from None
        spec = service.spec_of(campaign)
        target = planner.target_of(account, spec, as_of, service.policy_of(self.settings),
                                   planner.Rules.from_city(self.settings.city()))
        if target is None or (spec.kind != "payment_credited" and target.total < Decimal(row.total_due)):
            return {"state": "skipped_paid", "total_due": f"{target.total:.2f}" if target else "0.00"}
        text, data, link = service.message_for(self.settings, spec.kind, target, as_of, row.channel)
        if row.channel == channels.WIDGET:
            notice = WidgetNotice(str(row.id), str(campaign.id), spec.kind, row.account_no, text)
            try:
                await widget_notices.store_notice(self.redis, self.settings.keys, row.address, notice)
            except RedisError as exc:
                raise Retry(f"Redis unavailable: {type(exc).__name__}") from None
            return {"state": "sent", "api": widget_notices.WIDGET_API, "text": text,
                    "total_due": f"{target.total:.2f}", "sent_at": utcnow()}
        if self.wechat is None:
            return {"state": "failed", "error": "WeChat AppID/AppSecret not configured"}
        api = await self._wechat_send(self.wechat, row.address, spec.kind, text, data, link)
        return {"state": "sent", "api": api, "text": text, "total_due": f"{target.total:.2f}", "sent_at": utcnow()}

    async def _wechat_send(self, wechat: WeChatAPI, openid: str, kind: str, text: str,
                           data: dict[str, dict[str, str]], link: str | None) -> str:
        """Customer-service text inside the 48-hour window, else (or when refused) the template."""
        try:
            if await channels.in_service_window(self.redis, self.settings.keys, openid):
                try:
                    await wechat.send_text(openid, text)
                    return "custom"
                except (OutsideServiceWindowError, QuotaExceededError):
                    pass  # refused, so nothing was delivered: the template API may still reach them
            template_id = str((service.reminder_settings(self.settings).get("templates") or {}).get(kind, ""))
            if not template_id:
                raise WeChatAPIError(-3, f"no template id configured for {kind}")
            await wechat.send_template(openid, template_id, data, link)
            return "template"
        except (WeChatTransportError, TokenUnavailableError) as exc:
            raise Retry("WeChat unreachable") from exc
        except WeChatAPIError as exc:
            if exc.errcode in RATE_LIMIT_CODES:
                raise Retry(f"WeChat rate limit {exc.errcode}") from exc
            raise

    def _throttled(self, campaign: Campaign, row: ReminderSend) -> bool:
        with self.session_factory() as session:
            return bool(session.scalar(select(exists().where(and_(
                ReminderSend.account_no == row.account_no, ReminderSend.kind == campaign.kind,
                ReminderSend.state.in_(REACHED_STATES), ReminderSend.sent_at >= service.throttle_since(self.settings),
                ReminderSend.campaign_id != campaign.id)))))

    def _settle(self, row_id: int, values: dict[str, object]) -> None:
        with self.session_factory() as session:
            session.execute(update(ReminderSend).where(ReminderSend.id == row_id, ReminderSend.state == "sending")
                            .values(updated_at=utcnow(), **values))
            session.commit()

    def _requeue(self, campaign_id: int, row: ReminderSend, reason: str) -> None:
        delay = min(self.settings.REMINDER_BACKOFF_SECONDS * 2 ** max(row.attempts - 1, 0), MAX_BACKOFF_SECONDS)
        logger.info("reminders: campaign %s paused %.0f s (%s)", campaign_id, delay, reason)
        with self.session_factory() as session:
            session.execute(update(ReminderSend).where(ReminderSend.id == row.id, ReminderSend.state == "sending")
                            .values(state="queued", error=reason[:200], updated_at=utcnow()))
            session.execute(update(Campaign).where(Campaign.id == campaign_id)
                            .values(paused_until=utcnow() + dt.timedelta(seconds=delay), pause_reason=reason[:200]))
            session.commit()
