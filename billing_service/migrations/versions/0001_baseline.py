"""Baseline: the reference billing service's schema as `create_all` made it before migrations
(accounts, bills, payments; money as integer fen).

A database created by that older `create_all` has no alembic_version table; the
start-up upgrade stamps it with this revision instead of running it.

Revision ID: 0001_baseline
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('account_no', sa.String(length=10), nullable=False),
    sa.Column('holder', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('district', sa.String(length=50), nullable=False),
    sa.Column('area_m2', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('account_no')
    )
    op.create_index(op.f('ix_accounts_district'), 'accounts', ['district'], unique=False)
    op.create_table('bills',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('account_no', sa.String(length=10), nullable=False),
    sa.Column('season', sa.String(length=9), nullable=False),
    sa.Column('principal', sa.BigInteger(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['account_no'], ['accounts.account_no'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_no', 'season', name='uq_bills_account_season')
    )
    op.create_index(op.f('ix_bills_account_no'), 'bills', ['account_no'], unique=False)
    op.create_table('payments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('bill_id', sa.Integer(), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_payments_bill_id'), 'payments', ['bill_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_payments_bill_id'), table_name='payments')
    op.drop_table('payments')
    op.drop_index(op.f('ix_bills_account_no'), table_name='bills')
    op.drop_table('bills')
    op.drop_index(op.f('ix_accounts_district'), table_name='accounts')
    op.drop_table('accounts')
