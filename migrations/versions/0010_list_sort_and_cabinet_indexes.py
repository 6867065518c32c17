"""indexes for the users list's sort by login and for the cabinet home's counts of open invitations and
applications by deadline

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_INVITATION = sa.text("accepted_at IS NULL AND revoked_at IS NULL")
OPEN_INVITATION_INDEXES = (
    ("expires_at", "delivery_state"),
    ("municipality_id", "expires_at", "delivery_state"),
    ("organization_id", "expires_at", "delivery_state"),
)


def _open_invitation_index(columns: tuple[str, ...]) -> str:
    return f"ix_invitations_open_{'_'.join(columns)}"


def upgrade() -> None:
    op.create_index("ix_users_username", "users", ["username"])
    op.create_index("ix_users_municipality_id_username", "users", ["municipality_id", "username"])
    op.create_index("ix_users_organization_id_username", "users", ["organization_id", "username"])
    for columns in OPEN_INVITATION_INDEXES:
        op.create_index(
            _open_invitation_index(columns),
            "invitations",
            list(columns),
            postgresql_where=OPEN_INVITATION,
            sqlite_where=OPEN_INVITATION,
        )
    op.drop_index("ix_applications_deadline", table_name="applications")
    op.create_index("ix_applications_deadline_status", "applications", ["deadline", "status"])


def downgrade() -> None:
    op.drop_index("ix_applications_deadline_status", table_name="applications")
    op.create_index("ix_applications_deadline", "applications", ["deadline"])
    for columns in OPEN_INVITATION_INDEXES:
        op.drop_index(_open_invitation_index(columns), table_name="invitations")
    op.drop_index("ix_users_organization_id_username", table_name="users")
    op.drop_index("ix_users_municipality_id_username", table_name="users")
    op.drop_index("ix_users_username", table_name="users")
