"""The fake WeChat API server now lives in `tests/fakes/wechat_api.py` (stdlib only), so the
end-to-end tests in the service environment can start it too; re-exported here."""

from tests.fakes.wechat_api import FakeWeChat, FakeWeChatState, Recorded

__all__ = ["FakeWeChat", "FakeWeChatState", "Recorded"]
