"""School accounts (single sign-on through st.login): linked once with the class's join code, then signing straight
in; a personal code all the same; never when the provider's word is old, or older than the teacher's "sign out
everywhere"."""

import datetime
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from cnnlab.classroom import accounts, classes, database, schema, school, sessions
from cnnlab.errors import SignInRefused

ADDRESS = "10.0.0.1"
GOOGLE, ENTRA = "https://accounts.google.com", "https://login.microsoftonline.com/tenant-1/v2.0"


@pytest.fixture
def join_code(people_db):
    """The join code of a class on a class server."""
    teacher = accounts.add_teacher("Ana", "a-long-password").id
    return classes.create(teacher, "5A").join_code


def claims(sub, issuer=GOOGLE, ago=0, **more):
    """What st.user holds after a school sign-in ago seconds ago (the ID token's claims)."""
    issued = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=ago)
    return {"is_logged_in": True, "iss": issuer, "sub": sub, "iat": int(issued.timestamp()), **more}


def refused_key(call, *args):
    with pytest.raises(SignInRefused) as refused:
        call(*args)
    return refused.value.message.key


def test_a_school_account_joins_once_then_signs_straight_in(join_code):
    ana = claims("1001", name="Ana López", email="ana@school.example")
    assert school.sign_in(ana) is None  # not linked yet: the page asks for the class's join code
    person, code = school.join_with_school_account(join_code.lower(), ana, ADDRESS)
    assert person.name == "Ana López" and person.oidc_subject == f"{GOOGLE} 1001"
    assert classes.sign_in(code, ADDRESS).id == person.id  # a personal code too: it works without the internet
    assert school.sign_in(claims("1001")).id == person.id  # next time, straight in
    assert school.person_for(f"{GOOGLE} 1001").id == person.id
    assert refused_key(school.join_with_school_account, join_code, ana, ADDRESS) == "signin.school_linked"
    assert sessions.person(person.id).class_name == "5A"


def test_the_same_subject_from_two_providers_is_two_people(join_code):
    first, _ = school.join_with_school_account(join_code, claims("42", name="Ana"), ADDRESS)
    second, _ = school.join_with_school_account(join_code, claims("42", ENTRA, name="Ana"), ADDRESS)
    assert first.id != second.id and (first.name, second.name) == ("Ana", "Ana 2")
    assert school.sign_in(claims("42", ENTRA)).id == second.id and school.sign_in(claims("42")).id == first.id


def test_a_name_taken_in_the_class_gets_a_number_not_a_refusal(join_code):
    classes.join(join_code, "ana lópez", ADDRESS)  # typed by a classmate, in another case
    long_name = "Maximiliano " * 4  # 48 letters: a nickname is at most 40
    made = [school.join_with_school_account(join_code, claims(str(sub), name=name), ADDRESS)[0].name
            for sub, name in [(1, "Ana López"), (2, "Ana López"), (3, long_name), (4, long_name)]]
    assert made[:2] == ["Ana López 2", "Ana López 3"]
    assert made[2] == long_name[:40].rstrip() and made[3].endswith(" 2") and len(made[3]) <= accounts.MAX_NAME


def test_a_nickname_comes_from_the_account(join_code):
    assert school.nickname_of({"email": "ana.lopez@school.example"}) == "ana.lopez"
    assert school.nickname_of({"given_name": "Ana", "email": "x@y"}) == "Ana"
    assert school.nickname_of({"name": "  Ana\u0000  López "}) == "Ana López"
    assert school.nickname_of({}) == "student"


def test_a_wrong_join_code_and_a_closed_class_link_nobody(join_code, monkeypatch):
    ana = claims("1001", name="Ana")
    assert refused_key(school.join_with_school_account, "ZZZZZZ", ana, ADDRESS) == "signin.wrong_join_code"
    with database.transaction() as session:
        session.scalar(sa.select(schema.Classroom)).open = False
    assert refused_key(school.join_with_school_account, join_code, ana, ADDRESS) == "signin.class_closed"
    assert school.person_for(f"{GOOGLE} 1001") is None and school.sign_in(ana) is None
    monkeypatch.setitem(accounts.RATE, "address", 3)  # the join code's own rate limit, as classes.join
    for _ in range(2):
        refused_key(school.join_with_school_account, "YYYYYY", ana, ADDRESS)
    assert refused_key(school.join_with_school_account, join_code, ana, ADDRESS) == "signin.too_many"


def test_an_old_school_sign_in_signs_nobody_in(join_code):
    person, _ = school.join_with_school_account(join_code, claims("7", name="Leo"), ADDRESS)
    assert refused_key(school.sign_in, claims("7", ago=3600)) == "signin.school_again"  # a cookie kept for weeks
    assert refused_key(school.sign_in, claims("7", ago=-3600)) == "signin.school_again"  # from the future
    assert refused_key(school.sign_in, {"iss": GOOGLE, "sub": "7"}) == "signin.school_again"  # no time at all
    assert refused_key(school.join_with_school_account, join_code, claims("8", ago=3600), ADDRESS) \
        == "signin.school_again"
    assert refused_key(school.sign_in, {"iss": GOOGLE}) == "signin.school_no_subject"
    assert school.sign_in(claims("7", ago=60)).id == person.id


def test_the_teachers_sign_out_everywhere_outlasts_the_providers_word(join_code):
    before = claims("9", name="Sol", ago=5)
    person, _ = school.join_with_school_account(join_code, before, ADDRESS)
    sessions.open_session(person.id)
    sessions.end_all(person.id)  # the teacher ends every session of Sol's
    assert refused_key(school.sign_in, before) == "signin.school_again"
    later = claims("9")
    with database.transaction() as session:  # ended a little before the school sign-in that follows
        session.execute(sa.update(schema.BrowserSession).values(
            revoked_at=schema.now() - datetime.timedelta(seconds=2)))
    assert school.sign_in(later).id == person.id


def test_a_subject_longer_than_the_column_is_kept_as_its_hash(join_code):
    key = school.subject_of({"iss": GOOGLE, "sub": "x" * 300})
    assert key.startswith("sha256:") and len(key) <= school.MAX_SUBJECT
    assert key == school.subject_of({"iss": GOOGLE, "sub": "x" * 300})


class Provider(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = json.dumps({"issuer": "http://127.0.0.1", "authorization_endpoint": "http://127.0.0.1/a"}).encode()
        self.send_response(200 if self.path == "/.well-known/openid-configuration" else 404)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_provider_that_answers_is_reachable_and_one_that_does_not_is_not():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        assert school.provider_reachable(f"{url}/.well-known/openid-configuration")
        assert not school.provider_reachable(f"{url}/elsewhere")
    finally:
        server.shutdown()
        server.server_close()
    assert not school.provider_reachable(f"{url}/.well-known/openid-configuration", timeout=1)  # stopped
    assert not school.provider_reachable(None) and not school.provider_reachable("not a url")
