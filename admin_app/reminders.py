"""The reminder pass: every invitation whose one reminder is due gets it (the rule: admin_app.invitations).

The mail sender runs the pass before each of its own (in `serve` and `send-mail`),
and `send-mail --once` runs it too, so a cron-style run reminds as well. Each
invitation is claimed in a transaction of its own, so several processes may run
the pass at once and still remind each invitation once.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from admin_app.invitations import remind_invitation, reminder_due_ids
from admin_app.mail.sender import Chore
from settings import Settings


def remind_due(session_factory: sessionmaker[Session], settings: Settings, now: datetime) -> int:
    """Queue every reminder due at `now`; return how many were queued."""
    with session_factory() as session:
        due = reminder_due_ids(session, settings, now)
    reminded = 0
    for invitation_id in due:
        with session_factory.begin() as session:
            reminded += remind_invitation(session, invitation_id, settings=settings, now=now)
    return reminded


def reminder_chore(session_factory: sessionmaker[Session], settings: Settings) -> Chore:
    """The pass as a chore of the mail sender."""
    return partial(remind_due, session_factory, settings)
