"""«Муниципалитеты»: the municipalities and the departmental entries."""

from wtforms import SelectField

from models import MUNICIPALITY_KIND_LABELS, Municipality, MunicipalityKind
from views.base import PanelView


class MunicipalityAdmin(PanelView, model=Municipality):
    name = "Муниципалитет"
    name_plural = "Муниципалитеты"
    icon = "fa-solid fa-map-location-dot"
    can_delete = False
    column_list = [Municipality.name, Municipality.kind]
    column_details_list = [
        Municipality.name,
        Municipality.kind,
        Municipality.organizations,
    ]
    column_labels = {
        Municipality.name: "Название",
        Municipality.kind: "Вид",
        Municipality.organizations: "Образовательные организации",
    }
    column_formatters = {Municipality.kind: lambda m, _attr: MunicipalityKind(m.kind).label}
    column_formatters_detail = column_formatters
    column_searchable_list = [Municipality.name]
    column_sortable_list = [Municipality.name, Municipality.kind]
    column_default_sort = [(Municipality.name, False)]
    form_columns = [Municipality.name, Municipality.kind]
    form_overrides = {"kind": SelectField}
    form_args = {
        "name": {"label": "Название"},
        "kind": {
            "label": "Вид",
            "choices": [(kind.value, label) for kind, label in MUNICIPALITY_KIND_LABELS.items()],
        },
    }
