"""Every hand-in's lab report and the gradebook in one zip, for the class's teacher only (SQLite and PostgreSQL)."""

import html
import io
import zipfile

import pytest
import sqlalchemy as sa

from cnnlab import i18n, runs
from cnnlab.classroom import accounts, classes, database, permissions, requests, schema
from cnnlab.course import assignments, class_reports, handins
from cnnlab.errors import NotAllowed
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)


def test_the_zip_holds_each_hand_in_report_and_the_gradebook_for_the_teacher_only(people_db, stored):
    run = stored(TrainConfig(**TINY))
    ana = accounts.add_teacher("Ana", "a-long-password")
    mine = classes.create(ana.id, "5A")
    people = {name: classes.join(mine.join_code, name, "127.0.0.1")[0] for name in ("María José", "../x", "Rio")}
    teacher = permissions.Who("teacher", ana.id, "Ana")
    made = assignments.create(teacher, mine.id, "Overfitting", assignments.Rules("mnist", "fast", {}),
                              [{"report": "overfitting"}])
    with database.transaction() as session:  # the stored run is on the whole MNIST: nothing held back here
        session.execute(sa.update(schema.Assignment).values(private_share=0.0))
    students = {name: permissions.Who("student", person.id, name, mine.id) for name, person in people.items()}
    for name in ("María José", "../x"):
        requests.record(students[name], run.id, "mnist", "{}", assignment_id=made.id)
        handins.hand_in(students[name], made, [run.id], [f"{name} says it overfits."])
    handins.save(students["Rio"], made, [], ["A draft, not handed in."])

    archive = zipfile.ZipFile(io.BytesIO(class_reports.reports_zip(teacher, made, runs.RunStore())))
    names = archive.namelist()
    # one report per hand-in, by nickname (no path from a nickname), the gradebook, the class's report
    assert names == ["01-x.html", "02-Maria-Jose.html", f"gradebook-{made.code}.csv", f"class-{made.code}.html"]
    assert "María José says it overfits." in archive.read("02-Maria-Jose.html").decode()
    assert "A draft" not in " ".join(archive.read(name).decode() for name in names)
    book = archive.read(f"gradebook-{made.code}.csv").decode()
    assert book.count("\n") == 4  # the header and every student of the class
    class_page = html.unescape(archive.read(f"class-{made.code}.html").decode())
    assert "What the class learned: Overfitting" in class_page and "The class's sweep" in class_page
    assert class_page.count("<img") >= 2 and 'alt=""' not in class_page  # the sweep and the summed matrix, described
    assert "María José" in class_page and "Rio" not in class_page.split("Leaderboard")[-1]  # Rio handed nothing in
    for someone in (students["Rio"], permissions.GUEST, permissions.Who("teacher", 999, "Bea")):
        with pytest.raises(NotAllowed):
            class_reports.reports_zip(someone, made, runs.RunStore())


def test_a_nickname_with_no_plain_letter_is_named_by_the_word_for_a_student_in_the_readers_language():
    assert class_reports.file_name(3, "María José") == "03-Maria-Jose.html"
    assert class_reports.file_name(3, "../..") == class_reports.file_name(3, "李明") == "03-student.html"
    i18n.set_language("es")
    assert class_reports.file_name(12, "🙂") == "12-estudiante.html"
    assert class_reports.file_name(12, "Señor") == "12-Senor.html"
