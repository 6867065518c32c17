"""The generated register (XLSX) and notification (DOCX) open in LibreOffice, as users will open them.

LibreOffice converts each file headless; the text it reads out must be ours. Without LibreOffice the
tests are skipped, except under REQUIRE_LIBREOFFICE=1 (CI), where that is a failure.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from admin_app.generated_documents import notice_docx, register_xlsx
from models import Application, Municipality, Organization
from tests.required_tools import missing_tool

SOFFICE = shutil.which("soffice")


@pytest.fixture
def soffice() -> str:
    if SOFFICE is None:
        missing_tool("нет LibreOffice (soffice)", "REQUIRE_LIBREOFFICE")
    return SOFFICE


@pytest.fixture
def application() -> Application:
    application = Application(
        teacher_full_name="Петрова Анна Ивановна",
        position="учитель математики",
        requested_category="highest",
        status="registered",
        registration_number=7,
        registration_year=2026,
        registered_at=date(2026, 12, 4),
        deadline=date(2027, 2, 2),
    )
    application.organization = Organization(name="МБОУ «Корниловская СОШ»")
    application.municipality = Municipality(name="Томский район")
    return application


def convert(soffice: str, source: Path, target_filter: str, extension: str) -> str:
    """The file as LibreOffice reads it, converted to text."""
    profile = source.parent / "profile"
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            target_filter,
            str(source),
            "--outdir",
            str(source.parent),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return source.with_suffix(extension).read_text(encoding="utf-8-sig")


def test_register_opens_in_libreoffice_calc(soffice, application, tmp_path) -> None:
    source = tmp_path / "register.xlsx"
    source.write_bytes(
        register_xlsx([application], centre_name="ТОИПКРО", first=date(2026, 1, 1), last=date(2026, 12, 31))
    )
    text = convert(soffice, source, "csv:Text - txt - csv (StarCalc):59,34,76", ".csv")
    assert "Реестр заявлений на аттестацию за период с 01.01.2026 по 31.12.2026" in text
    assert "1;7/2026;04.12.2026;Петрова Анна Ивановна;учитель математики" in text
    assert "Высшая;Зарегистрировано;02.02.2027" in text


def test_notice_opens_in_libreoffice_writer(soffice, application, tmp_path) -> None:
    source = tmp_path / "notice.docx"
    source.write_bytes(notice_docx(application, centre_name="ТОИПКРО"))
    text = convert(soffice, source, "txt:Text (encoded):UTF8", ".txt")
    assert "Уведомление о сроках проведения аттестации" in text
    assert "Уважаемый(ая) Петрова Анна Ивановна!" in text
    assert "зарегистрировано 04.12.2026 под номером 7/2026" in text
    assert "02.02.2027" in text
