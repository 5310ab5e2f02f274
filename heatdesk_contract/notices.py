"""A reminder notice waiting for a widget resident (issue 17, "Channels").

The console's reminder worker stores one per (campaign, household) send under
``KeySpace.widget_notices(session)``, keyed by the send's id, so a re-run writes the same
field again; the widget channel shows it on the session's next open and reports the send id
under ``KeySpace.widget_notices_shown()``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

#: Pending notices and bindings expire with the widget session's transcript (30 days).
WIDGET_NOTICE_TTL_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class WidgetNotice:
    send_id: str
    campaign_id: str
    kind: str
    account_no: str
    text: str

    def to_json(self) -> str:
        return json.dumps({"send_id": self.send_id, "campaign_id": self.campaign_id, "kind": self.kind,
                           "account_no": self.account_no, "text": self.text}, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> Optional["WidgetNotice"]:
        """None for a value that is not a notice (never shown, dropped by the reader)."""
        try:
            data = json.loads(raw)
            notice = cls(str(data["send_id"]), str(data["campaign_id"]), str(data["kind"]),
                         str(data["account_no"]), str(data["text"]))
        except (ValueError, KeyError, TypeError):
            return None
        return notice if notice.text and notice.send_id else None
