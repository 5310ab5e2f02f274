"""The action server, reachable only by Rasa (DESIGN.md, "Conversation ids belong to their channel").

`rasa run actions` listens on 0.0.0.0 without authentication, and the action
server trusts the tracker it is sent: a hand-made tracker with `verified_account`
set would be answered with that household's bills. This entry point runs the same
rasa-sdk app, bound to `ACTION_HOST` (127.0.0.1 by default), and when
`ACTION_SERVER_TOKEN` is set it refuses every call without that token in the
`X-Action-Token` header (endpoints.yml makes Rasa send it). `/health` stays open
for load balancers; it tells nothing about residents.

Run: `python -m actions.server --actions actions --port 5055` (see the Procfile).
"""

from __future__ import annotations

import hmac
import logging
from typing import Optional

from rasa_sdk import utils
from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
from rasa_sdk.endpoint import create_app, create_argument_parser, create_ssl_context
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import get_settings

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Action-Token"
OPEN_PATHS = frozenset({"/health"})


def require_token(app: Sanic, token: str) -> None:
    """Every request but `/health` must carry the shared token (constant-time compare)."""

    @app.middleware("request")
    async def check_token(request: Request) -> Optional[HTTPResponse]:
        if request.path in OPEN_PATHS:
            return None
        given = request.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            logger.warning("action server: call without a valid token refused")
            return response.json({"error": "action server token required"}, status=401)
        return None


def build_app(actions_package: str, cors_origins: Optional[str] = None) -> Sanic:
    """rasa-sdk's app plus the token check; CORS off unless asked (only Rasa calls it)."""
    app = create_app(actions_package, cors_origins=cors_origins or "")
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    token = get_settings().action_server_token
    if token:
        require_token(app, token)
    else:
        logger.warning("ACTION_SERVER_TOKEN is not set: the action server relies on its bind address alone")
    return app


def main() -> None:
    args = create_argument_parser().parse_args()
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(
        logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), args.log_file, args.loglevel, args.logging_config_file
    )
    utils.update_sanic_log_level()
    app = build_app(args.actions or "actions", args.cors)
    ssl_context = create_ssl_context(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    host = get_settings().action_host
    logger.info("Action server listening on %s:%s", host, args.port)
    app.run(host, int(args.port), ssl=ssl_context, workers=utils.number_of_sanic_workers())


if __name__ == "__main__":
    main()
