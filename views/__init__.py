"""The panel's views, in menu order."""

from collections.abc import Mapping

from sqladmin import Admin, ModelView

from views.applications import ApplicationAdmin
from views.audit import AuditEventAdmin
from views.invitations import InvitationAdmin
from views.mailing import MailingView
from views.municipalities import MunicipalityAdmin
from views.organizations import OrganizationAdmin
from views.profile import ProfileView
from views.roles import RoleAdmin
from views.users import UserAdmin

VIEWS = (
    ApplicationAdmin,
    MailingView,
    InvitationAdmin,
    UserAdmin,
    MunicipalityAdmin,
    OrganizationAdmin,
    RoleAdmin,
    AuditEventAdmin,
    ProfileView,
)


def register_views(admin: Admin) -> None:
    for view in VIEWS:
        admin.add_view(view)


def field_labels(identity: str) -> Mapping[str, str]:
    """The Russian labels of a model view's fields by field name (for the audit trail); {} for an unknown view."""
    for view in VIEWS:
        if issubclass(view, ModelView) and view.identity == identity:
            return {getattr(column, "key", column): label for column, label in view.column_labels.items()}
    return {}
