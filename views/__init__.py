"""The panel's views, in menu order."""

from sqladmin import Admin

from views.applications import ApplicationAdmin
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
    ProfileView,
)


def register_views(admin: Admin) -> None:
    for view in VIEWS:
        admin.add_view(view)
