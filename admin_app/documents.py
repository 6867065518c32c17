"""Documents of an application: what may be uploaded, by whom, and how it is stored.

A file's type is decided by its content, never by its name: PDF, DOCX, XLSX,
JPEG and PNG only; DOCX and XLSX must be real Office Open XML packages without
macros and without a zip bomb inside. Files are stored under `var/documents/`
with a random name; the database keeps the original name, size and SHA-256.
Every refusal is a `DocumentError` with a Russian message.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from admin_app.audit import AuditAction, record
from admin_app.auth import CurrentUser
from admin_app.scopes import in_scope
from models import DOCUMENT_KIND_LABELS, Application, Document, DocumentKind, Recommendation, RoleCode

MAX_ZIP_ENTRIES = 1000
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
ACCEPTED = "PDF, DOCX, XLSX, JPG или PNG"

# Who may attach which kind of document.
UPLOADERS: dict[DocumentKind, frozenset[RoleCode]] = {
    DocumentKind.APPLICATION: frozenset(
        {RoleCode.OPERATOR, RoleCode.MUNICIPAL_COORDINATOR, RoleCode.ORGANIZATION_COORDINATOR}
    ),
    DocumentKind.PETITION: frozenset(
        {RoleCode.OPERATOR, RoleCode.MUNICIPAL_COORDINATOR, RoleCode.ORGANIZATION_COORDINATOR}
    ),
    DocumentKind.CONCLUSION: frozenset({RoleCode.OPERATOR, RoleCode.EXPERT}),
    DocumentKind.OTHER: frozenset(
        {RoleCode.OPERATOR, RoleCode.MUNICIPAL_COORDINATOR, RoleCode.ORGANIZATION_COORDINATOR}
    ),
}


class DocumentError(ValueError):
    """An upload is refused; the message says why, in Russian."""


@dataclass(frozen=True)
class FileType:
    extension: str
    content_type: str


PDF = FileType("pdf", "application/pdf")
PNG = FileType("png", "image/png")
JPEG = FileType("jpg", "image/jpeg")
DOCX = FileType("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
XLSX = FileType("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def detect_type(content: bytes) -> FileType | None:
    """The type of `content` by its bytes, or None when it is none of the accepted ones."""
    if content.startswith(b"%PDF-"):
        return PDF
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content.startswith(b"PK\x03\x04"):
        return _office_type(content)
    return None


def _office_type(content: bytes) -> FileType | None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as package:
            entries = package.infolist()
            names = {entry.filename for entry in entries}
            if len(entries) > MAX_ZIP_ENTRIES or sum(entry.file_size for entry in entries) > MAX_UNPACKED_BYTES:
                return None
    except zipfile.BadZipFile:
        return None
    if "[Content_Types].xml" not in names or any(name.endswith("vbaProject.bin") for name in names):
        return None
    if "word/document.xml" in names:
        return DOCX
    if "xl/workbook.xml" in names:
        return XLSX
    return None


def uploadable_kinds(user: CurrentUser) -> list[DocumentKind]:
    return [kind for kind, roles in UPLOADERS.items() if user.role in roles]


def store_document(
    session: Session,
    application: Application,
    *,
    kind: str,
    filename: str,
    content: bytes,
    recommendation: str = "",
    actor: CurrentUser,
    storage_dir: Path,
    max_bytes: int,
    now: datetime,
) -> Document:
    """Check the upload, write the file, add its row; the file is removed again if the row cannot be added."""
    if not in_scope(actor, application):
        raise DocumentError("Заявление не найдено.")
    try:
        document_kind = DocumentKind(kind)
    except ValueError:
        raise DocumentError("Выберите вид документа из списка.") from None
    if actor.role not in UPLOADERS[document_kind]:
        raise DocumentError(f"Документ «{DOCUMENT_KIND_LABELS[document_kind]}» вы прикрепить не можете.")
    advice = _recommendation(document_kind, recommendation)
    if not content:
        raise DocumentError("Файл пустой: выберите файл с документом.")
    if len(content) > max_bytes:
        raise DocumentError(f"Файл больше {max_bytes // (1024 * 1024)} МБ: уменьшите его или разделите на части.")
    file_type = detect_type(content)
    if file_type is None:
        raise DocumentError(f"Такой файл принять нельзя: подходят только {ACCEPTED}.")
    storage_name = secrets.token_hex(16)
    path = _write(storage_dir, storage_name, content)
    try:
        document = Document(
            application_id=application.id,
            kind=document_kind,
            filename=_clean_name(filename, file_type),
            content_type=file_type.content_type,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            storage_name=storage_name,
            recommendation=advice,
            uploaded_at=now,
            uploaded_by_id=actor.id,
        )
        session.add(document)
        session.flush()
    except Exception:
        path.unlink(missing_ok=True)
        raise
    record(session, AuditAction.DOCUMENT_UPLOADED, target=application, details=document_label(document), actor=actor)
    return document


def document_label(document: Document) -> str:
    """«имя.pdf (Ходатайство)»: a document as the audit trail names it."""
    return f"{document.filename} ({DOCUMENT_KIND_LABELS[DocumentKind(document.kind)]})"


def _recommendation(kind: DocumentKind, value: str) -> Recommendation | None:
    """An expert's conclusion must say what it recommends; other documents say nothing."""
    if kind is not DocumentKind.CONCLUSION:
        return None
    try:
        return Recommendation(value)
    except ValueError:
        raise DocumentError("Укажите рекомендацию эксперта: установить категорию или нет.") from None


def document_path(storage_dir: Path, document: Document) -> Path:
    return storage_dir / document.storage_name


def _write(storage_dir: Path, storage_name: str, content: bytes) -> Path:
    storage_dir.mkdir(parents=True, exist_ok=True)
    path = storage_dir / storage_name
    temporary = path.with_suffix(".part")
    with open(temporary, "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)
    return path


def _clean_name(filename: str, file_type: FileType) -> str:
    """The name shown and offered on download: no directories, no control characters, the right extension."""
    base = Path(filename.replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable())[:200].strip() or "документ"
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return f"{stem}.{file_type.extension}"
