"""School accounts: students who sign in with their school's single sign-on (Streamlit's st.login, OpenID Connect).

Optional: a teacher whose school has Google Workspace or Microsoft Entra puts an [auth] section in
.streamlit/secrets.toml. The first time a school account signs in, the student types the class's join code once and
becomes a student of it, linked to that account; afterwards the account signs them straight in. They also get a
personal code, shown once: the school's provider is on the internet and the class may not be, and codes always work.

The provider's word is taken only when it is recent (FRESH), and never when it is older than the last time the
person's sessions were ended: Streamlit keeps it in a cookie for 30 days, and it must neither outlive cnnlab's own
session nor undo a teacher's "sign out everywhere".
"""

import datetime
import hashlib
import json
import urllib.request

import sqlalchemy as sa

from cnnlab.classroom import classes, database, schema
from cnnlab.errors import SignInRefused

MAX_SUBJECT = 256  # people.oidc_subject
FRESH = datetime.timedelta(minutes=10)  # how old a school sign-in may be when it signs someone in to cnnlab
AHEAD = datetime.timedelta(minutes=2)  # a provider's clock a little ahead of ours
NAME_CLAIMS = ("name", "nickname", "given_name", "preferred_username")  # a nickname from the account, the first found
REACH_SECONDS = 3.0


def subject_of(claims):
    """The key of a school account: its provider (issuer) and its subject, "https://accounts.google.com 1234", so
    two providers that happen to use the same subject are two people. A key longer than the column is hashed."""
    issuer, subject = str(claims.get("iss") or "").strip(), str(claims.get("sub") or "").strip()
    if not issuer or not subject:
        raise SignInRefused("signin.school_no_subject")
    key = f"{issuer} {subject}"
    return key if len(key) <= MAX_SUBJECT else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def nickname_of(claims):
    """The name a school account brings (its name, else the part of its e-mail before the @), as a nickname."""
    found = next((str(claims[claim]) for claim in NAME_CLAIMS if str(claims.get(claim) or "").strip()), "")
    if not found:
        found = str(claims.get("email") or "").partition("@")[0]
    text = " ".join("".join(ch for ch in found if ch.isprintable()).split())
    return text[:40].rstrip() or "student"


def person_for(subject):
    """The person linked to that school account, or None."""
    with database.transaction() as session:
        return session.scalar(sa.select(schema.Person).where(schema.Person.oidc_subject == subject))


def issued_at(claims):
    """When the provider signed the account in (the ID token's iat), as the database's times are kept; None if
    unknown."""
    try:
        return datetime.datetime.fromtimestamp(float(claims["iat"]), datetime.UTC).replace(tzinfo=None)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def recent(claims, now=None):
    """True when the provider signed the account in within FRESH: a cookie kept for weeks is not a sign-in."""
    when, now = issued_at(claims), now or schema.now()
    return when is not None and now - FRESH <= when <= now + AHEAD


def sign_in(claims):
    """The person a school account signs in now: None when it is linked to nobody yet (the student joins a class
    with join_with_school_account). SignInRefused("signin.school_again") when the provider's sign-in is not recent,
    or older than the last time the person's sessions were ended (signed out, or ended by the teacher)."""
    subject = subject_of(claims)
    with database.transaction() as session:
        person = session.scalar(sa.select(schema.Person).where(schema.Person.oidc_subject == subject))
        ended = session.scalar(sa.select(sa.func.max(schema.BrowserSession.revoked_at))
                               .where(schema.BrowserSession.person_id == person.id)) if person else None
    if not recent(claims) or (person is not None and ended is not None and issued_at(claims) <= ended):
        raise SignInRefused("signin.school_again")
    return person


def join_with_school_account(join_code, claims, address):
    """A school account joins the class whose join code was typed, as classes.join does (the same rate limit and
    sentences), under the account's name (made unique in the class): (the person, their personal code)."""
    subject = subject_of(claims)
    if not recent(claims):
        raise SignInRefused("signin.school_again")
    if person_for(subject) is not None:
        raise SignInRefused("signin.school_linked")
    try:
        return classes.join(join_code, nickname_of(claims), address, school_account=subject)
    except SignInRefused as refused:  # the account linked in another tab at the same moment (its unique subject)
        if refused.message.key == "signin.nickname_taken" and person_for(subject) is not None:
            raise SignInRefused("signin.school_linked") from None
        raise


def provider_reachable(metadata_url, timeout=REACH_SECONDS):
    """True when the provider's OpenID configuration answers within timeout: without the internet it does not, and
    the page says so in a sentence instead of sending the student to an error."""
    try:
        with urllib.request.urlopen(str(metadata_url), timeout=timeout) as answer:
            return answer.status == 200 and "authorization_endpoint" in json.loads(answer.read(1 << 20))
    except (OSError, ValueError):
        return False
