"""A signed-in browser: an expiring session token kept in a cookie, revocable by the teacher.

The token is `<session id>.<secret>`, both random; the database keeps the secret's SHA-256 only, so a copy of the
database signs nobody in, and a token changed by one character (a tampered cookie) matches nothing. Nothing of it
is ever put in an address: a link copied from a classmate's screen makes nobody them.
"""

import datetime
import hashlib
import hmac
import re
import secrets

import sqlalchemy as sa

from cnnlab.classroom import accounts, database, permissions, schema
from cnnlab.errors import CnnlabError

DAYS = 30  # a student stays signed in on their own device for a term's month; the teacher may end it sooner
MAX_TOKEN = 128
SESSION_ID = re.compile(r"[0-9a-f]{32}")  # what open_session makes; anything else is not looked up


Who, OWNER, GUEST = permissions.Who, permissions.OWNER, permissions.GUEST  # who a token signs in


def _digest(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def open_session(person_id, days=DAYS):
    """A new signed-in browser for the person: the token to keep in its cookie."""
    session_id, secret = secrets.token_hex(16), secrets.token_urlsafe(32)
    with database.transaction() as session:
        session.add(schema.BrowserSession(id=session_id, person_id=person_id, secret_digest=_digest(secret),
                                          expires_at=schema.now() + datetime.timedelta(days=days)))
    return f"{session_id}.{secret}"


TICKET_SECONDS = 60


def open_ticket(person_id, days=DAYS):
    """A signed-in browser to be: a one-time ticket, good for TICKET_SECONDS, that the browser takes to the server's
    /api/session route (redeem) to get its cookie. A ticket in an address is spent once used, so a copy is worth
    nothing."""
    ticket = secrets.token_urlsafe(24)
    with database.transaction() as session:
        session.add(schema.BrowserSession(
            id=secrets.token_hex(16), person_id=person_id, secret_digest=_digest(secrets.token_urlsafe(32)),
            expires_at=schema.now() + datetime.timedelta(days=days), ticket_digest=_digest(ticket),
            ticket_expires_at=schema.now() + datetime.timedelta(seconds=TICKET_SECONDS)))
    return ticket


def redeem(ticket):
    """The cookie's token for a ticket, once (None: unknown, spent or too old)."""
    if not ticket or len(str(ticket)) > MAX_TOKEN:
        return None
    secret = secrets.token_urlsafe(32)
    with database.transaction() as session:
        found = session.scalar(sa.select(schema.BrowserSession)
                               .where(schema.BrowserSession.ticket_digest == _digest(str(ticket))))
        if found is None:
            return None
        found.ticket_digest = None  # spent, whatever happens next
        if found.ticket_expires_at <= schema.now() or found.revoked_at is not None:
            return None
        found.secret_digest = _digest(secret)
        return f"{found.id}.{secret}"


def who(token):
    """Who a cookie's token signs in; (Who, None) when it does, (GUEST, reason) when it does not: reason is None for
    no token, else "tampered", "expired" or "ended" (signed out, or ended by the teacher)."""
    if not token:
        return GUEST, None
    session_id, _, secret = str(token)[:MAX_TOKEN].partition(".")
    with database.transaction() as session:
        found = session.get(schema.BrowserSession, session_id) if SESSION_ID.fullmatch(session_id) else None
        if found is None or not hmac.compare_digest(found.secret_digest, _digest(secret)):
            return GUEST, "tampered"
        if found.revoked_at is not None:
            return GUEST, "ended"
        if found.expires_at <= schema.now():
            return GUEST, "expired"
        return _who_of(session, found.person_id, session_id), None


def _who_of(session, person_id, session_id=None):
    person = session.get(schema.Person, person_id)
    if person is None:
        return GUEST  # removed since: nobody
    found = session.execute(sa.select(schema.Membership.class_id, schema.Classroom.name)
                            .join(schema.Classroom, schema.Classroom.id == schema.Membership.class_id)
                            .where(schema.Membership.person_id == person_id)
                            .order_by(schema.Membership.joined_at.desc()).limit(1)).first()
    class_id, class_name = found if found else (None, "")
    return Who(person.role, person.id, person.name, class_id, session_id, class_name, person.language)


def person(person_id):
    """A Who for a person by id (the command line acting for someone, a test)."""
    with database.transaction() as session:
        return _who_of(session, person_id)


def as_now(who):
    """who as the database knows them now (a training starting long after it was asked for; a person removed since
    is nobody); the copy given, if the database cannot be reached now."""
    if who.person_id is None:
        return who
    try:
        return person(who.person_id)
    except CnnlabError:
        return who


def close(token):
    """Sign out: the token stops working at once."""
    session_id = str(token or "")[:MAX_TOKEN].partition(".")[0]
    with database.transaction() as session:
        session.execute(sa.update(schema.BrowserSession).where(schema.BrowserSession.id == session_id)
                        .values(revoked_at=schema.now()))


def end_all(person_id):
    """End every browser session of the person (the teacher's "sign out everywhere")."""
    with database.transaction() as session:
        accounts.end_sessions(session, person_id)
