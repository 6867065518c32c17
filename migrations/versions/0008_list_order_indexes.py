"""indexes for the coordinators' invitation lists: their scope column, then the list's newest-first order

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_invitations_municipality_id_created_at", "invitations", ["municipality_id", "created_at"])
    op.create_index("ix_invitations_organization_id_created_at", "invitations", ["organization_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_invitations_organization_id_created_at", table_name="invitations")
    op.drop_index("ix_invitations_municipality_id_created_at", table_name="invitations")
