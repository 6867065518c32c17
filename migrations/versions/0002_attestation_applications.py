"""attestation applications

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('teacher_full_name', sa.String(length=200), nullable=False),
    sa.Column('teacher_email', sa.String(length=254), nullable=False),
    sa.Column('teacher_phone', sa.String(length=40), nullable=False),
    sa.Column('position', sa.String(length=200), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('requested_category', sa.String(length=20), nullable=False),
    sa.Column('current_category', sa.String(length=20), nullable=True),
    sa.Column('current_category_date', sa.Date(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('registration_year', sa.Integer(), nullable=True),
    sa.Column('registration_number', sa.Integer(), nullable=True),
    sa.Column('registered_at', sa.Date(), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_applications_created_by_id_users')),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'], name=op.f('fk_applications_municipality_id_municipalities')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_applications_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applications')),
    sa.UniqueConstraint('municipality_id', 'registration_year', 'registration_number', name=op.f('uq_applications_municipality_id_registration_year_registration_number'))
    )
    op.create_index(op.f('ix_applications_deadline'), 'applications', ['deadline'])
    op.create_index(op.f('ix_applications_municipality_id'), 'applications', ['municipality_id'])
    op.create_index(op.f('ix_applications_organization_id'), 'applications', ['organization_id'])
    op.create_index(op.f('ix_applications_requested_category'), 'applications', ['requested_category'])
    op.create_index(op.f('ix_applications_status'), 'applications', ['status'])
    op.create_index(op.f('ix_applications_submitted_at'), 'applications', ['submitted_at'])
    op.create_index(op.f('ix_applications_teacher_full_name'), 'applications', ['teacher_full_name'])

    op.create_table('application_experts',
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('expert_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_application_experts_application_id_applications')),
    sa.ForeignKeyConstraint(['expert_id'], ['users.id'], name=op.f('fk_application_experts_expert_id_users')),
    sa.PrimaryKeyConstraint('application_id', 'expert_id', name=op.f('pk_application_experts'))
    )
    op.create_index(op.f('ix_application_experts_expert_id'), 'application_experts', ['expert_id'])

    op.create_table('application_status_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_application_status_changes_actor_id_users')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_application_status_changes_application_id_applications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_status_changes'))
    )
    op.create_index(op.f('ix_application_status_changes_application_id'), 'application_status_changes', ['application_id'])



def downgrade() -> None:
    op.drop_table('application_status_changes')
    op.drop_table('application_experts')
    op.drop_table('applications')
