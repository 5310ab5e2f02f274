"""The agent's tools of a shift (issue 15): presence, teams, auto-assignment.

* ``agents.presence_status``: what the agent chose in the header (online / away / offline);
  every existing account starts online. Whether their console is open is Redis's presence set.
* ``teams``, ``team_members``, ``team_categories``: the teams supervisors make (维修调度, 收费),
  their agents, and the ticket categories each team handles (a category belongs to one team).
* ``tickets.team_id``: the team a ticket waits for (its category's, or a transfer to a team).
  Existing tickets belong to no team.
* ``console_settings``: switches supervisors set in the console (``auto_assign``: off until a
  supervisor turns it on), one JSON value per key.

Revision ID: 0006_agent_tools
Revises: 0005_console_shift
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_agent_tools"
down_revision = "0005_console_shift"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database without alembic_version is stamped as the baseline whatever `create_all` made
    # it, so a newer `create_all` may already have these: add each only when missing.
    bind = op.get_bind()
    tables = set(sa.inspect(bind).get_table_names())
    if "teams" not in tables:
        op.create_table(
            "teams",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("name", sa.String(length=64), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("updated_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("name"),
        )
    if "team_members" not in tables:
        op.create_table(
            "team_members",
            sa.Column("team_id", sa.Integer(), nullable=False),
            sa.Column("agent_id", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
            sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("team_id", "agent_id"),
        )
        op.create_index(op.f("ix_team_members_agent_id"), "team_members", ["agent_id"], unique=False)
    if "team_categories" not in tables:
        op.create_table(
            "team_categories",
            sa.Column("category", sa.String(length=64), nullable=False),
            sa.Column("team_id", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("category"),
        )
        op.create_index(op.f("ix_team_categories_team_id"), "team_categories", ["team_id"], unique=False)
    if "console_settings" not in tables:
        op.create_table(
            "console_settings",
            sa.Column("key", sa.String(length=64), nullable=False),
            sa.Column("value", sa.JSON(), nullable=False),
            sa.Column("updated_at", sa.DateTime(), nullable=False),
            sa.Column("updated_by_id", sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(["updated_by_id"], ["agents.id"], ondelete="SET NULL"),
            sa.PrimaryKeyConstraint("key"),
        )
    agent_columns = {column["name"] for column in sa.inspect(bind).get_columns("agents")}
    if "presence_status" not in agent_columns:
        with op.batch_alter_table("agents") as batch:
            batch.add_column(sa.Column("presence_status", sa.String(length=16), nullable=False,
                                       server_default="online"))
    ticket_columns = {column["name"] for column in sa.inspect(bind).get_columns("tickets")}
    if "team_id" not in ticket_columns:
        with op.batch_alter_table("tickets") as batch:
            batch.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
            batch.create_index(op.f("ix_tickets_team_id"), ["team_id"], unique=False)
            batch.create_foreign_key("fk_tickets_team_id", "teams", ["team_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("fk_tickets_team_id", type_="foreignkey")
        batch.drop_index(op.f("ix_tickets_team_id"))
        batch.drop_column("team_id")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("presence_status")
    op.drop_table("console_settings")
    op.drop_index(op.f("ix_team_categories_team_id"), table_name="team_categories")
    op.drop_table("team_categories")
    op.drop_index(op.f("ix_team_members_agent_id"), table_name="team_members")
    op.drop_table("team_members")
    op.drop_table("teams")
