"""when a user or a teacher consented to the processing of personal data (152-ФЗ) on a public form

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("personal_data_consent_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("applications", sa.Column("personal_data_consent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+): a batch would rebuild `users` and lose its index on lower(username).
    op.drop_column("applications", "personal_data_consent_at")
    op.drop_column("users", "personal_data_consent_at")
