"""Reference data: the municipalities of Tomsk oblast and the departmental entries.

`load_reference` adds what is missing and changes nothing on a second run.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Municipality, MunicipalityKind

URBAN_OKRUGS = ("Город Томск", "ЗАТО Северск", "Город Стрежевой", "Город Кедровый")
MUNICIPAL_DISTRICTS = (
    "Александровский район",
    "Асиновский район",
    "Бакчарский район",
    "Верхнекетский район",
    "Зырянский район",
    "Каргасокский район",
    "Кожевниковский район",
    "Колпашевский район",
    "Кривошеинский район",
    "Молчановский район",
    "Парабельский район",
    "Первомайский район",
    "Тегульдетский район",
    "Томский район",
    "Чаинский район",
    "Шегарский район",
)
DEPARTMENTAL = ("Культура и искусство", "Физическая культура и спорт")

MUNICIPALITIES: tuple[tuple[str, MunicipalityKind], ...] = (
    *((name, MunicipalityKind.URBAN_OKRUG) for name in URBAN_OKRUGS),
    *((name, MunicipalityKind.MUNICIPAL_DISTRICT) for name in MUNICIPAL_DISTRICTS),
    *((name, MunicipalityKind.DEPARTMENTAL) for name in DEPARTMENTAL),
)


def load_reference(session: Session) -> int:
    """Insert the municipalities not yet present; return how many were added."""
    present = set(session.scalars(select(Municipality.name)))
    missing = [Municipality(name=name, kind=kind) for name, kind in MUNICIPALITIES if name not in present]
    session.add_all(missing)
    return len(missing)
