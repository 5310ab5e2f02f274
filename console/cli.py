"""Account administration from the shell (the web UI needs a first account to log in).

    python -m console.cli add-agent NAME --role agent|supervisor [--display-name 小王] [--password-stdin]
    python -m console.cli set-password NAME [--password-stdin]
    python -m console.cli deactivate NAME
    python -m console.cli activate NAME
    python -m console.cli list
    python -m console.cli remind preview|run|send|status …   (reminder campaigns, docs/reminders.md)

Without --password-stdin the password is asked twice on the terminal (never echoed).
Deactivation ends the agent's sessions at once; their open tickets return to the queue
(the running console publishes the resulting events within seconds).
"""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from collections.abc import Sequence

from sqlalchemy.orm import Session

from console import redis_ops
from console.db import upgrade_to_head, make_engine, make_session_factory
from console.errors import ConsoleError
from console.models import Agent
from console.reminders import cli as remind_cli
from console.repository import get_agent_by_username
from console.schemas.common import USERNAME_PATTERN
from console.security import MIN_PASSWORD_LENGTH
from console.services.agents import activate_agent, create_agent, deactivate_agent, list_agents, set_password
from console.settings import get_settings


class CliError(Exception):
    """A user mistake: printed as one line, exit status 1."""


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise CliError("no terminal to ask for the password; use --password-stdin")
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise CliError("the passwords differ")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CliError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return password


def _agent(session: Session, name: str) -> Agent:
    agent = get_agent_by_username(session, name)
    if agent is None:
        raise CliError(f"no agent named {name!r}")
    return agent


def run(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m console.cli", description="HeatDesk console accounts")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add-agent", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", choices=("agent", "supervisor"), default="agent")
    add.add_argument("--display-name", help="name shown to users, e.g. 客服小王 (default: NAME)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    setpw = commands.add_parser("set-password", help="set a new password (ends the agent's sessions)")
    setpw.add_argument("name")
    setpw.add_argument("--password-stdin", action="store_true")
    for command in ("deactivate", "activate"):
        sub = commands.add_parser(command, help=f"{command} an account")
        sub.add_argument("name")
    commands.add_parser("list", help="list accounts")
    remind_cli.add_parser(commands)
    args = parser.parse_args(argv)

    settings = get_settings()
    engine = make_engine(settings.database_url)
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    try:
        with factory() as session:
            if args.command == "remind":
                remind_cli.run(args, settings, factory)
            elif args.command == "add-agent":
                if not re.fullmatch(USERNAME_PATTERN, args.name):
                    raise CliError("the name must be 2-64 characters: Latin letters, digits, _ . -")
                agent = create_agent(session, args.name, read_password(args.password_stdin), args.role,
                                          args.display_name)
                session.commit()
                print(f"created {agent.role} {agent.username} (id {agent.id})")
            elif args.command == "set-password":
                agent = _agent(session, args.name)
                set_password(session, agent, read_password(args.password_stdin))
                session.commit()
                print(f"password of {agent.username} changed; their sessions have ended")
            elif args.command == "deactivate":
                agent = deactivate_agent(session, _agent(session, args.name).id, actor=None)
                redis_ops.commit(session, None)  # the console's op worker publishes the events
                print(f"deactivated {agent.username}")
            elif args.command == "activate":
                agent = activate_agent(session, _agent(session, args.name).id, actor=None)
                session.commit()
                print(f"activated {agent.username}")
            else:
                for agent in list_agents(session):
                    state = "active" if agent.active else "inactive"
                    print(f"{agent.id}\t{agent.username}\t{agent.role}\t{state}\t{agent.display_name}")
    except (CliError, ConsoleError, remind_cli.RemindError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
