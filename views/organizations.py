"""«Образовательные организации»: /admin/organization/… — schools and other organizations.
Operators manage all; a municipal coordinator those of their own municipality."""

from models import Organization
from views.scoped import ScopedView


class OrganizationAdmin(ScopedView, model=Organization):
    name = "Образовательная организация"
    name_plural = "Образовательные организации"
    icon = "fa-solid fa-school"
    can_delete = False
    scope_fields = ("municipality",)
    column_list = [Organization.name, Organization.municipality]
    column_details_list = [Organization.name, Organization.municipality]
    column_labels = {
        Organization.name: "Название",
        Organization.municipality: "Муниципалитет",
    }
    column_searchable_list = [Organization.name]
    column_sortable_list = [Organization.name]
    column_default_sort = [(Organization.name, False)]
    form_columns = [Organization.name, Organization.municipality]
    form_args = {
        "name": {"label": "Название"},
        "municipality": {"label": "Муниципалитет"},
    }
