"""The command line: `python -m admin_app <command>`.

Every command that touches the database first brings its schema to head, so a
fresh DATABASE_URL works with any of them. Every message is Russian; an error
is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from collections.abc import Sequence

from sqlalchemy import select

from admin_app import cli_russian
from admin_app.accounts import AccountError, check_password, create_user
from admin_app.db import make_engine, make_session_factory, transaction
from admin_app.passwords import hash_password
from admin_app.reference import load_reference
from admin_app.schema import upgrade_to_head
from models import Municipality, Organization, Role, RoleCode, User
from settings import Settings, SettingsError, load_settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
MAX_WORKERS = 32
EXIT_ERROR = 1
EXIT_SETTINGS = 2


class CommandError(Exception):
    """A command cannot be carried out; the message is for the operator."""


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> None:
    upgrade_to_head(settings.database_url)
    print("База данных обновлена до последней версии схемы.")


def cmd_load_reference(settings: Settings, _args: argparse.Namespace) -> None:
    upgrade_to_head(settings.database_url)
    with transaction(_session_factory(settings)) as session:
        added = load_reference(session)
    print(f"Справочник муниципалитетов загружен: добавлено записей — {added}.")


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> None:
    password = os.environ.get("ADMIN_PASSWORD") or _prompt_password()
    upgrade_to_head(settings.database_url)
    try:
        check_password(password, args.username, args.email)
        with transaction(_session_factory(settings)) as session:
            user = create_user(
                session,
                role_code=args.role,
                username=args.username,
                email=args.email,
                full_name=args.full_name,
                password_hash=hash_password(password, settings.bcrypt_rounds),
                municipality_id=_municipality_id(session, args.municipality),
                organization_id=_organization_id(session, args.organization),
            )
            role_name = user.role.name
    except AccountError as error:
        raise CommandError(str(error)) from None
    print(f"Пользователь «{args.username}» создан, роль: {role_name}.")


def cmd_bootstrap(settings: Settings, _args: argparse.Namespace) -> None:
    """What a fresh local run needs: the schema, the reference data, a first operator."""
    cmd_load_reference(settings, _args)
    with transaction(_session_factory(settings)) as session:
        has_operator = session.scalar(select(User.id).join(Role).where(Role.code == RoleCode.OPERATOR).limit(1))
        if has_operator is not None:
            print("Оператор уже есть: новая учетная запись не создавалась.")
            return
        password = secrets.token_urlsafe(12)
        create_user(
            session,
            role_code=RoleCode.OPERATOR,
            username="operator",
            email="operator@example.com",
            full_name="Оператор центра аттестации",
            password_hash=hash_password(password, settings.bcrypt_rounds),
        )
    print("Создан первый оператор. Запишите данные для входа — пароль больше не будет показан:")
    print("  имя пользователя: operator")
    print(f"  пароль:           {password}")


def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    """Fill a fresh database with the demo region (admin_app.demo); one password for every demo user."""
    from admin_app.demo import DemoError, fill_demo, summary_lines
    from models import utcnow

    given = os.environ.get("DEMO_PASSWORD", "")
    password = given or secrets.token_urlsafe(12)
    upgrade_to_head(settings.database_url)
    now = utcnow()
    try:
        with transaction(_session_factory(settings)) as session:
            load_reference(session)
            result = fill_demo(session, settings, password=password, now=now, force=args.force)
            lines = summary_lines(session, result, now=now)
    except DemoError as error:
        raise CommandError(str(error)) from None
    print("\n".join(lines))
    if given:
        print("Пароль всех демонстрационных пользователей — из переменной DEMO_PASSWORD.")
        return
    print("Пароль всех демонстрационных пользователей. Запишите его — он больше не будет показан:")
    print(f"  пароль:           {password}")


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    """Serve with `--workers` processes; each builds the application from the environment (the settings
    were checked here first) and, unless `--no-mail`, runs a mail sender of its own."""
    import uvicorn

    from admin_app.app import SERVED_APP, SERVED_APP_WITHOUT_MAIL

    upgrade_to_head(settings.database_url)
    mail = "письма отправляет отдельная команда send-mail" if args.no_mail else "письма отправляет каждый процесс"
    print(f"Аттестация: http://{args.host}:{args.port}/admin/ (остановить — Ctrl+C)")
    print(f"Рабочих процессов: {args.workers}; {mail}.")
    uvicorn.run(
        SERVED_APP_WITHOUT_MAIL if args.no_mail else SERVED_APP,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
    )


def cmd_send_mail(settings: Settings, args: argparse.Namespace) -> None:
    """Deliver the e-mail outbox and queue due invitation reminders: once (--once), or until Ctrl+C."""
    import asyncio
    import logging

    from admin_app.mail.outbox import count_by_status
    from admin_app.mail.sender import MailSender, deliver_due, run_until_signalled
    from admin_app.mail.transports import transport_for
    from admin_app.reminders import remind_due, reminder_chore
    from models import OutboxStatus, utcnow

    upgrade_to_head(settings.database_url)
    factory = _session_factory(settings)
    transport = transport_for(settings)
    logging.basicConfig(level=logging.WARNING if args.once else logging.INFO, format="%(asctime)s %(message)s")
    if args.once:
        reminded = remind_due(factory, settings, utcnow())
        if reminded:
            print(f"Напоминаний о приглашениях поставлено в очередь: {reminded}.")
        sent = asyncio.run(deliver_due(factory, transport))
        with transaction(factory) as session:
            counts = count_by_status(session)
        print(
            f"Отправлено писем: {sent}; в очереди: {counts[OutboxStatus.PENDING]}; "
            f"с ошибкой: {counts[OutboxStatus.DEAD]}."
        )
        return
    print("Рассылка писем запущена (остановить — Ctrl+C).")
    asyncio.run(run_until_signalled(MailSender(factory, transport, chores=[reminder_chore(factory, settings)])))
    print("Рассылка писем остановлена.")


def _worker_count(raw: str) -> int:
    try:
        count = int(raw)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"ожидается целое число от 1 до {MAX_WORKERS}, получено «{raw}»")
    return count


def _session_factory(settings: Settings):
    return make_session_factory(make_engine(settings.database_url))


def _prompt_password() -> str:
    if not sys.stdin.isatty():
        raise CommandError("Пароль не задан: укажите его в переменной ADMIN_PASSWORD.")
    password = getpass.getpass("Пароль: ")
    if password != getpass.getpass("Пароль ещё раз: "):
        raise CommandError("Пароли не совпадают.")
    return password


def _municipality_id(session, name: str | None) -> int | None:
    if not name:
        return None
    found = session.scalar(select(Municipality.id).where(Municipality.name == name))
    if found is None:
        raise CommandError(f"Муниципалитет «{name}» не найден (загрузите справочник: load-reference).")
    return found


def _organization_id(session, name: str | None) -> int | None:
    if not name:
        return None
    found = session.scalars(select(Organization.id).where(Organization.name == name)).all()
    if len(found) != 1:
        raise CommandError(f"Образовательная организация «{name}» не найдена или неоднозначна.")
    return found[0]


def build_parser() -> argparse.ArgumentParser:
    cli_russian.install()
    parser = argparse.ArgumentParser(
        prog="python -m admin_app",
        description="Аттестация: управление приложением из командной строки.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="КОМАНДА")

    serve = commands.add_parser("serve", help="обновить схему базы и запустить веб-сервер")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"адрес (по умолчанию {DEFAULT_HOST})")
    serve.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"порт (по умолчанию {DEFAULT_PORT})",
    )
    serve.add_argument(
        "--workers",
        type=_worker_count,
        metavar="N",
        default=1,
        help=f"число рабочих процессов, от 1 до {MAX_WORKERS} (по умолчанию 1): любой из них обслуживает любой запрос",
    )
    serve.add_argument(
        "--no-mail",
        action="store_true",
        help="не отправлять письма из процессов сервера: их отправляет отдельная команда send-mail",
    )
    serve.set_defaults(handler=cmd_serve)

    commands.add_parser("migrate", help="обновить схему базы данных до последней версии").set_defaults(
        handler=cmd_migrate
    )
    commands.add_parser("load-reference", help="загрузить справочник муниципалитетов Томской области").set_defaults(
        handler=cmd_load_reference
    )

    create = commands.add_parser(
        "create-user",
        help="создать пользователя (пароль из ADMIN_PASSWORD или с клавиатуры)",
    )
    create.add_argument(
        "--role",
        required=True,
        help="роль: " + ", ".join(code.value for code in RoleCode),
    )
    create.add_argument("--username", required=True, help="имя пользователя (латиница)")
    create.add_argument("--email", required=True, help="адрес электронной почты")
    create.add_argument("--full-name", default="", help="ФИО")
    create.add_argument(
        "--municipality",
        help="муниципалитет (название) — для координаторов и экспертов",
    )
    create.add_argument("--organization", help="образовательная организация (название)")
    create.set_defaults(handler=cmd_create_user)

    commands.add_parser(
        "bootstrap",
        help="подготовить локальный запуск: схема, справочник, первый оператор",
    ).set_defaults(handler=cmd_bootstrap)
    demo = commands.add_parser(
        "demo",
        help="заполнить новую базу демонстрационными данными Томской области "
        "(пароль пользователей из DEMO_PASSWORD или случайный)",
    )
    demo.add_argument(
        "--force",
        action="store_true",
        help="добавить демонстрационные данные, даже если в базе уже есть пользователи, приглашения или заявления",
    )
    demo.set_defaults(handler=cmd_demo)
    send_mail = commands.add_parser(
        "send-mail",
        help="отправлять письма из очереди и напоминания о приглашениях до Ctrl+C (с --once — отправить и выйти)",
    )
    send_mail.add_argument("--once", action="store_true", help="отправить то, что пора, и выйти")
    send_mail.set_defaults(handler=cmd_send_mail)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve" and not os.environ.get("BASE_URL", "").strip():
        os.environ["BASE_URL"] = f"http://{args.host}:{args.port}"
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"Ошибка настройки: {error}", file=sys.stderr)
        return EXIT_SETTINGS
    try:
        args.handler(settings, args)
    except (CommandError, AccountError) as error:
        print(f"Ошибка: {error}", file=sys.stderr)
        return EXIT_ERROR
    return 0
