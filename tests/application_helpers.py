"""A teacher's application as the forms post it, shared by the tests of the public and the panel forms."""

from __future__ import annotations

TEACHER = {
    "full_name": "Петрова Анна Ивановна",
    "email": "petrova@example.ru",
    "phone": "+7 913 000-00-00",
    "position": "учитель математики",
    "requested_category": "first",
    "current_category": "",
    "current_category_date": "",
}
