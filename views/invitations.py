"""«Приглашения»: every invitation with its state; read-only here (sending is «Рассылка»)."""

from models import DELIVERY_STATE_LABELS, DeliveryState, Invitation
from views.base import PanelView

LABELS = {
    Invitation.email: "Почта получателя",
    Invitation.role: "Роль",
    Invitation.municipality: "Муниципалитет",
    Invitation.organization: "Образовательная организация",
    Invitation.inviter: "Пригласил",
    Invitation.created_at: "Создано",
    Invitation.expires_at: "Действует до",
    Invitation.sent_at: "Отправлено",
    Invitation.delivery_state: "Доставка",
    Invitation.accepted_at: "Зарегистрирован",
    Invitation.accepted_user: "Пользователь",
    Invitation.revoked_at: "Отозвано",
}


class InvitationAdmin(PanelView, model=Invitation):
    name = "Приглашение"
    name_plural = "Приглашения"
    icon = "fa-solid fa-envelope-open-text"
    can_create = False
    can_edit = False
    can_delete = False
    column_list = [
        Invitation.email,
        Invitation.role,
        Invitation.municipality,
        Invitation.inviter,
        Invitation.created_at,
        Invitation.delivery_state,
        Invitation.accepted_user,
    ]
    column_details_list = list(LABELS)
    column_labels = LABELS
    column_formatters = {
        Invitation.delivery_state: lambda m, _attr: DELIVERY_STATE_LABELS[DeliveryState(m.delivery_state)]
    }
    column_formatters_detail = column_formatters
    column_searchable_list = [Invitation.email]
    column_sortable_list = [Invitation.email, Invitation.created_at]
    column_default_sort = [(Invitation.created_at, True)]
