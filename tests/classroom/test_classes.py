"""Classes: a join code for the board, students who join with it, personal codes kept only as a keyed hash."""

import hashlib
import hmac
import pathlib
import re

import sqlalchemy as sa

import pytest

from cnnlab.classroom import accounts, classes, codes, database, schema, sessions
from cnnlab.errors import SignInRefused

JOIN_CODE = re.compile(r"[A-Z2-9]{6}")
LOOK_ALIKE = set("01OIL")  # a join code on the board is never misread
PERSONAL_CODE = re.compile(r"[a-z]+-[a-z]+-[0-9]{4}")
ADDRESS = "10.0.0.1"


@pytest.fixture
def teacher(people_db):
    """A teacher's id (the class server's first account)."""
    return accounts.add_teacher("Ana", "a-long-password").id


def count(table):
    with database.transaction() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(table))


def nicknames(class_id):
    return [nickname for _, nickname, _ in classes.roster(class_id)]


def test_a_class_gets_a_join_code_that_reads_unambiguously(teacher):
    made = [classes.create(teacher, f"Class {i}", term="2025 autumn") for i in range(25)]
    assert all(JOIN_CODE.fullmatch(c.join_code) and not set(c.join_code) & LOOK_ALIKE for c in made)
    assert len({c.join_code for c in made}) == len(made)
    assert made[0].term == "2025 autumn" and made[0].open and made[0].teacher_id == teacher
    assert [c.id for c in classes.of_teacher(teacher)] == [c.id for c in reversed(made)]  # newest first


def test_a_join_code_another_class_has_is_drawn_again(teacher, monkeypatch):
    first = classes.create(teacher, "5A")
    drawn = iter([first.join_code, first.join_code, "K7M2QX"])
    monkeypatch.setattr(codes, "join_code", lambda: next(drawn))
    assert classes.create(teacher, "5B").join_code == "K7M2QX"


def test_a_class_name_is_taken_once(teacher):
    classes.create(teacher, "5A")
    with pytest.raises(SignInRefused) as refused:
        classes.create(teacher, " 5A ")
    assert refused.value.message.key == "signin.class_taken"
    assert count(schema.Classroom) == 1
    with pytest.raises(SignInRefused):
        classes.create(teacher, "   ")


def test_a_student_joins_with_the_code_typed_any_way_and_gets_a_personal_code(teacher):
    made = classes.create(teacher, "5A")
    spaced = " ".join(made.join_code.lower()[:3]) + " - " + made.join_code.lower()[3:] + " "  # "k 7 m - 2qx "
    person, code = classes.join(spaced, "  Kiwi  Lover ", ADDRESS)
    assert person.role == "student" and person.name == "Kiwi Lover"
    assert PERSONAL_CODE.fullmatch(code) and codes.PERSONAL.match(code)
    assert code.split("-")[0] in codes.WORDS
    assert classes.roster(made.id)[0][:2] == (person.id, "Kiwi Lover")
    assert classes.sign_in(code, ADDRESS).id == person.id


@pytest.mark.parametrize("first, again", [("Luna", "luna"), ("luna", "LUNA "), ("Ángel", "ángel"),
                                          ("Émile", "ÉMILE")])
def test_a_nickname_taken_in_the_class_is_refused_whatever_its_case(teacher, first, again):
    made = classes.create(teacher, "5A")
    classes.join(made.join_code, first, ADDRESS)
    people, attempts = count(schema.Person), count(schema.SignInAttempt)
    with pytest.raises(SignInRefused) as refused:
        classes.join(made.join_code, again, ADDRESS)
    assert refused.value.message.key == "signin.nickname_taken"
    assert count(schema.Person) == people and count(schema.Membership) == 1
    assert count(schema.SignInAttempt) == attempts  # a nickname taken is no failed sign-in
    other = classes.create(teacher, "5B")
    classes.join(other.join_code, again, ADDRESS)  # another class may have one called so
    assert nicknames(other.id) == [again.strip()]


def test_a_wrong_join_code_is_refused_and_counted(teacher):
    made = classes.create(teacher, "5A")
    wrong = next(c for c in ("AAAAAA", "BBBBBB") if c != made.join_code)
    typed = (wrong, "", None, made.join_code + "X", made.join_code[:-1], "\x00" + made.join_code[1:], "' OR 1=1 --",
             "x" * 100_000)
    for text in typed:
        with pytest.raises(SignInRefused) as refused:
            classes.join(text, "Luna", ADDRESS)
        assert refused.value.message.key == "signin.wrong_join_code"
    assert count(schema.Membership) == 0 and count(schema.SignInAttempt) == len(typed)


def test_a_term_keeps_only_what_can_be_shown(teacher):
    made = classes.create(teacher, "5A", term="  2025\x00 autumn\n ")
    assert made.term == "2025 autumn"
    assert classes.of_teacher(teacher)[0].term == "2025 autumn"


def test_too_many_wrong_join_codes_from_an_address_are_refused(teacher, monkeypatch):
    monkeypatch.setitem(accounts.RATE, "address", 3)
    made = classes.create(teacher, "5A")
    for wrong in ("AAAAAA", "BBBBBB", "CCCCCC"):
        with pytest.raises(SignInRefused):
            classes.join(wrong, "Luna", "192.0.2.1")
    with pytest.raises(SignInRefused, match="Too many"):
        classes.join(made.join_code, "Luna", "192.0.2.1")
    assert classes.join(made.join_code, "Luna", "192.0.2.2")[0].name == "Luna"


def test_a_full_class_takes_nobody_more_by_code_or_by_roster(teacher, monkeypatch):
    monkeypatch.setattr(classes, "MAX_MEMBERS", 3)
    made = classes.create(teacher, "5A")
    classes.add_students(made.id, ["Ana", "Luis"])
    classes.join(made.join_code, "Luna", ADDRESS)
    with pytest.raises(SignInRefused, match="has its 3 students already"):
        classes.join(made.join_code, "Sol", ADDRESS)
    with pytest.raises(SignInRefused, match="has its 3 students already"):
        classes.add_students(made.id, ["Mar"])
    assert count(schema.Person) == 4  # the teacher and three students
    other = classes.create(teacher, "5B")  # a limit per class
    assert classes.join(other.join_code, "Sol", ADDRESS)[0].name == "Sol"


def test_a_closed_class_takes_nobody(teacher):
    made = classes.create(teacher, "5A")
    with database.transaction() as session:
        session.get(schema.Classroom, made.id).open = False
    with pytest.raises(SignInRefused) as refused:
        classes.join(made.join_code, "Luna", ADDRESS)
    assert refused.value.message.key == "signin.class_closed"
    assert count(schema.Person) == 1  # the teacher only


@pytest.mark.parametrize("typed", ["{word}-{digits}", " {Word} {digits} ", "{WORD}-{digits}", "{word}_{digits}",
                                   "\t{word}  -  {digits}\n", "{Word} - {digits}"])
def test_a_student_signs_in_with_their_code_typed_any_way(teacher, typed):
    made = classes.create(teacher, "5A")
    person, code = classes.join(made.join_code, "Luna", ADDRESS)
    word, digits = code.rsplit("-", 1)
    as_typed = typed.format(word=word, Word=word.capitalize(), WORD=word.upper(), digits=digits)
    assert classes.sign_in(as_typed, ADDRESS).id == person.id


def test_a_wrong_personal_code_is_refused_and_counted(teacher):
    made = classes.create(teacher, "5A")
    _, code = classes.join(made.join_code, "Luna", ADDRESS)
    word, digits = code.rsplit("-", 1)
    other_digits = f"{(int(digits) + 1) % 10_000:04d}"
    for typed in (f"{word}-{other_digits}", f"{word}{digits}", "", None, "x" * 5000, code + "0"):
        with pytest.raises(SignInRefused) as refused:
            classes.sign_in(typed, ADDRESS)
        assert refused.value.message.key == "signin.wrong_code"
    assert count(schema.SignInAttempt) == 6


def everything_stored():
    """Every row of every table, as text; for SQLite the database's files' bytes too."""
    texts = []
    with database.ready().connect() as connection:
        for table in sa.inspect(connection).get_table_names():
            texts += [repr(tuple(row)) for row in connection.execute(sa.text(f"SELECT * FROM {table}"))]
    address = sa.engine.make_url(database.url())
    if address.get_backend_name() == "sqlite":
        database.forget()  # the WAL checkpointed into the file
        for path in pathlib.Path(address.database).parent.glob(pathlib.Path(address.database).name + "*"):
            texts.append(path.read_bytes().decode("latin-1"))
    return "\n".join(texts)


def test_personal_codes_are_stored_only_as_a_keyed_hash(teacher):
    made = classes.create(teacher, "5A")
    students = [classes.join(made.join_code, nickname, ADDRESS) for nickname in ("Luna", "Sol")]
    students += classes.add_students(made.id, ["Mar", "Rio"])  # (nickname, code)
    wrong = "zzzz-0000"
    with pytest.raises(SignInRefused):
        classes.sign_in(wrong, ADDRESS)
    with database.transaction() as session:
        key = accounts.key(session)
        digests = set(session.scalars(sa.select(schema.Person.code_digest).where(schema.Person.role == "student")))
    assert digests == {hmac.new(key.encode(), code.encode(), hashlib.sha256).hexdigest() for _, code in students}
    assert not digests & {hashlib.sha256(code.encode()).hexdigest() for _, code in students}  # keyed, not plain
    stored = everything_stored()
    for _, code in students:
        assert code not in stored and code.replace("-", " ") not in stored
    assert wrong not in stored


def test_reset_code_gives_a_new_code_and_ends_the_students_sessions(teacher):
    made = classes.create(teacher, "5A")
    person, old = classes.join(made.join_code, "Luna", ADDRESS)
    other, other_code = classes.join(made.join_code, "Sol", ADDRESS)
    token, other_token = sessions.open_session(person.id), sessions.open_session(other.id)
    new = classes.reset_code(made.id, person.id)
    assert new != old and PERSONAL_CODE.fullmatch(new)
    with pytest.raises(SignInRefused):
        classes.sign_in(old, ADDRESS)
    assert classes.sign_in(new, ADDRESS).id == person.id
    assert sessions.who(token) == (sessions.GUEST, "ended")
    assert sessions.who(other_token)[0].person_id == other.id and classes.sign_in(other_code, ADDRESS).id == other.id


def test_reset_code_of_someone_not_in_the_class_is_refused(teacher):
    first, second = classes.create(teacher, "5A"), classes.create(teacher, "5B")
    person, code = classes.join(first.join_code, "Luna", ADDRESS)
    with pytest.raises(SignInRefused) as refused:
        classes.reset_code(second.id, person.id)
    assert refused.value.message.key == "signin.not_in_class"
    assert classes.sign_in(code, ADDRESS).id == person.id  # unchanged


def test_add_students_gives_each_a_code_in_the_rosters_order(teacher):
    made = classes.create(teacher, "5A")
    added = classes.add_students(made.id, ["Sol", "  Luna ", "Mar"])
    assert [nickname for nickname, _ in added] == ["Sol", "Luna", "Mar"]
    assert len({code for _, code in added}) == 3
    for nickname, code in added:
        assert PERSONAL_CODE.fullmatch(code)
        assert classes.sign_in(code, ADDRESS).name == nickname


@pytest.mark.parametrize("roster", [["Sol", "Luna", "sol"], ["Sol", "Luna", "Mar "], ["Sol", "", "Mar"]])
def test_add_students_is_all_or_none(teacher, roster):
    made = classes.create(teacher, "5A")
    classes.join(made.join_code, "Mar", ADDRESS)
    people = count(schema.Person)
    with pytest.raises(SignInRefused):
        classes.add_students(made.id, roster)
    assert count(schema.Person) == people and nicknames(made.id) == ["Mar"]


def test_roster_lists_the_students_by_nickname_whatever_its_case(teacher):
    made, other = classes.create(teacher, "5A"), classes.create(teacher, "5B")
    joined = {nickname: classes.join(made.join_code, nickname, ADDRESS)[0].id for nickname in ("carla", "Bea", "ana")}
    classes.join(other.join_code, "Zoe", ADDRESS)
    rows = classes.roster(made.id)
    assert [nickname for _, nickname, _ in rows] == sorted(joined, key=str.lower)
    assert all(joined[nickname] == person_id for person_id, nickname, _ in rows)
    assert all(joined_at <= schema.now() for _, _, joined_at in rows)
    assert classes.roster(other.id)[0][1] == "Zoe"


# parse_roster reads what a teacher pastes or uploads: no database involved


def test_parse_roster_reads_a_plain_list_one_a_line():
    assert classes.parse_roster("Luna\n  Sol \n\n Mar\r\nRío\n") == ["Luna", "Sol", "Mar", "Río"]


@pytest.mark.parametrize("header, rows, expected", [
    ("first name,nickname,email", ["Ana Pérez,luna,ana@example.org", "Bea Ruiz,sol,bea@example.org"], ["luna", "sol"]),
    ("Email;x,Nickname", ["a@example.org,Luna", "b@example.org,Sol"], ["Luna", "Sol"]),
    ("name,nickname", ["Ana Pérez,luna", "Bea Ruiz,sol"], ["luna", "sol"]),
    ("nombre,apodo,correo", ["Ana Pérez,luna,a@example.org"], ["luna"]),
    ("id,name", ["1,Luna", "2,Sol"], ["Luna", "Sol"]),
])
def test_parse_roster_reads_the_nickname_column_of_a_csv(header, rows, expected):
    """The nickname is what classmates see: a roster with a name and a nickname gives the nickname."""
    assert classes.parse_roster("\n".join([header, *rows]) + "\n") == expected


def test_parse_roster_reads_bytes_with_a_byte_order_mark():
    data = "\ufeffnickname,email\nLuna,a@example.org\nÁngel,b@example.org\n".encode()
    assert classes.parse_roster(data) == ["Luna", "Ángel"]
    assert classes.parse_roster("\ufeffLuna\nSol\n".encode()) == ["Luna", "Sol"]


@pytest.mark.parametrize("text", ["", "\n\n  \n", "nickname\n", b"", ",,,\n"])
def test_parse_roster_refuses_a_roster_without_nicknames(text):
    with pytest.raises(SignInRefused) as refused:
        classes.parse_roster(text)
    assert refused.value.message.key == "signin.roster_empty"


def test_parse_roster_takes_at_most_max_roster_names():
    names = [f"student{i}" for i in range(classes.MAX_ROSTER + 1)]
    assert classes.parse_roster("\n".join(names[:-1])) == names[:-1]
    with pytest.raises(SignInRefused) as refused:
        classes.parse_roster("\n".join(names))
    assert str(classes.MAX_ROSTER) in str(refused.value)


class Undecodable(bytes):
    """Bytes that fail the test if anyone decodes them."""

    def decode(self, *args, **kwargs):
        raise AssertionError("a roster over the limit was decoded")


def test_parse_roster_refuses_too_many_bytes_before_decoding_them():
    big = Undecodable(b"Luna\n" * (classes.MAX_ROSTER_BYTES // 5 + 1))
    assert len(big) > classes.MAX_ROSTER_BYTES
    with pytest.raises(SignInRefused) as refused:
        classes.parse_roster(big)
    assert refused.value.message.key == "signin.roster_big"
    with pytest.raises(SignInRefused):
        classes.parse_roster("x" * (classes.MAX_ROSTER_BYTES + 1))
