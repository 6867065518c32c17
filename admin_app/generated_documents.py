"""Documents the system forms: the register of applications (XLSX) and a notification of the
attestation dates for one application (DOCX). Both are built in memory and returned as bytes;
the finished documents can then be uploaded back and stored with the application.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

from docx import Document as WordDocument
from docx.shared import Pt
from openpyxl import Workbook
from openpyxl.styles import Font

from admin_app.applications import registration_label
from admin_app.cells import safe_cell
from models import APPLICATION_STATUS_LABELS, CATEGORY_LABELS, Application, ApplicationStatus, Category

REGISTER_COLUMNS = (
    ("№", 6),
    ("Рег. номер", 12),
    ("Дата регистрации", 16),
    ("ФИО педагога", 36),
    ("Должность", 28),
    ("Образовательная организация", 40),
    ("Муниципалитет", 24),
    ("Категория", 20),
    ("Статус", 30),
    ("Срок аттестации", 16),
)


def _day(value: date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


def register_xlsx(applications: Sequence[Application], *, centre_name: str, first: date, last: date) -> bytes:
    """«Реестр заявлений на аттестацию» for applications registered from `first` to `last`."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Реестр заявлений"
    sheet.append([f"Реестр заявлений на аттестацию за период с {_day(first)} по {_day(last)}"])
    sheet.append([f"Центр аттестации педагогических работников {centre_name}"])
    sheet.append([title for title, _ in REGISTER_COLUMNS])
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for number, application in enumerate(applications, start=1):
        sheet.append(
            [
                number,
                registration_label(application),
                _day(application.registered_at),
                *(
                    safe_cell(value)
                    for value in (
                        application.teacher_full_name,
                        application.position,
                        application.organization.name,
                        application.municipality.name,
                    )
                ),
                CATEGORY_LABELS[Category(application.requested_category)],
                APPLICATION_STATUS_LABELS[ApplicationStatus(application.status)],
                _day(application.deadline),
            ]
        )
    sheet["A1"].font = Font(bold=True, size=13)
    for index, (_, width) in enumerate(REGISTER_COLUMNS, start=1):
        sheet.column_dimensions[sheet.cell(row=3, column=index).column_letter].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def notice_docx(application: Application, *, centre_name: str) -> bytes:
    """«Уведомление о сроках проведения аттестации» for one registered application."""
    document = WordDocument()
    document.styles["Normal"].font.size = Pt(12)
    document.add_paragraph(f"Центр аттестации педагогических работников {centre_name}")
    document.add_heading("Уведомление о сроках проведения аттестации", level=1)
    document.add_paragraph(f"Уважаемый(ая) {application.teacher_full_name}!")
    category = CATEGORY_LABELS[Category(application.requested_category)]
    document.add_paragraph(
        f"Ваше заявление на аттестацию в целях установления квалификационной категории «{category}» "
        f"зарегистрировано {_day(application.registered_at)} под номером {registration_label(application)}."
    )
    table = document.add_table(rows=0, cols=2)
    for label, value in (
        ("Образовательная организация", application.organization.name),
        ("Должность", application.position),
        ("Дата регистрации заявления", _day(application.registered_at)),
        ("Срок проведения аттестации — до", _day(application.deadline)),
    ):
        cells = table.add_row().cells
        cells[0].text, cells[1].text = label, value
    document.add_paragraph("Аттестация проводится в установленный срок. О её результатах Вам сообщат дополнительно.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
