"""application status key

The teacher's status link (/Application/Status?k=…): only the SHA-256 of its key
is stored. A unique index rather than a unique constraint, so that SQLite adds it
in place: a unique constraint there means copying the table (batch mode), which
fails once applications have history rows (foreign keys are on).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('applications', sa.Column('status_key_hash', sa.String(length=64), nullable=True))
    op.create_index(op.f('ix_applications_status_key_hash'), 'applications', ['status_key_hash'], unique=True)


def downgrade() -> None:
    op.drop_index(op.f('ix_applications_status_key_hash'), table_name='applications')
    op.drop_column('applications', 'status_key_hash')
