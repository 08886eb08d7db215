"""The gradebook: one row per student of a class and assignment, handed in or not, as a CSV a teacher takes home.

Each row: the student's nickname, the assignment, handed in (yes/no), when, how many times, the public score (their
best run as the leaderboard ranks it, cnnlab.course.leaderboard.best_runs: the best complete run of what they handed
in, else of every run they trained for the assignment, on the assignment's held-out copy of its data), the private
score (the same run on the test images the teacher holds back), that run (or, when none of the runs they handed in
can be scored any more, a sentence saying so, and no score from another run), its settings, and the length of each
answer (of what they handed in; of their draft when they have not). The Teacher page offers csv_text() as a download;
`python -m cnnlab class gradebook CLASS` writes it.
"""

import csv
import io
import json

from cnnlab.classroom import classes, requests
from cnnlab.course import assignments, handins, leaderboard
from cnnlab.errors import NotAllowed
from cnnlab.i18n import t

COLUMNS = ("gradebook.col_student", "gradebook.col_assignment", "gradebook.col_code", "gradebook.col_handed_in",
           "gradebook.col_when", "gradebook.col_times", "gradebook.col_public", "gradebook.col_private",
           "gradebook.col_run", "gradebook.col_settings")
FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a cell starting so is a formula to a spreadsheet: kept as text


def _row(who, nickname, assignment, hand_in, best):
    """One student's row; best: their run on the leaderboard (None: they have none)."""
    private = leaderboard.private_score(who, best) if best is not None else None
    handed = hand_in is not None and hand_in.handed_at is not None
    return {
        "student": nickname, "assignment": assignment.title, "code": assignment.code, "handed_in": handed,
        "when": hand_in.handed_at.isoformat(" ", "minutes") + " UTC" if handed else "",
        "times": hand_in.times if hand_in is not None else 0,
        "public": round(best.test_accuracy, 4) if best is not None else None,
        # the same run on the test images the teacher holds back (cnnlab.course.leaderboard; None: not on a held-out
        # copy), rounded like the public score
        "private": None if private is None else round(private, 4),
        "run": best.id if best is not None else _why_no_run(hand_in, handed),
        "settings": json.dumps(best.config.to_dict(), sort_keys=True) if best is not None else "",
        "answers": [len(answer) for answer in (handins.handed_answers_of(hand_in) if handed
                                               else handins.answers_of(hand_in))]
        or [0] * len(assignments.questions_of(assignment)),
    }


def _why_no_run(hand_in, handed):
    """Why a student who handed in has no scored run (their handed-in runs are gone, or they handed in none: either
    way no other run of theirs is scored, leaderboard.best_runs); "" for one who did not hand in."""
    if not handed:
        return ""
    return t("gradebook.handed_runs_gone") if handins.handed_runs_of(hand_in) else t("gradebook.handed_no_run")


def rows(who, class_id, store, assignment=None):
    """The gradebook's rows (dicts, see _row) of every assignment of the class, newest first (or of one), each with
    every student of the class by nickname: for the class's teacher and the owner."""
    if not requests.may_see_class(who, class_id):
        raise NotAllowed("permission.not_your_class")
    chosen = [assignment] if assignment is not None else assignments.of_class(who, class_id)
    roster = classes.roster(class_id)
    out = []
    for made in chosen:
        handed = {row.person_id: row for _, row in handins.of_assignment(who, made)}
        best = leaderboard.best_runs(store, made)  # the board's best run of each student, so the scores agree
        out += [_row(who, nickname, made, handed.get(person_id), best.get(person_id))
                for person_id, nickname, _ in roster]
    return out


def _cell(value):
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA) else text


def csv_text(who, class_id, store, assignment=None):
    """The gradebook as CSV text (headers in the reader's language; an answer-length column per question, as many as
    the assignment with the most questions)."""
    found = rows(who, class_id, store, assignment)
    answers = max((len(row["answers"]) for row in found), default=0)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([t(key) for key in COLUMNS] + [t("gradebook.col_answer", number=i + 1) for i in range(answers)])
    for row in found:
        yes_no = t("gradebook.yes") if row["handed_in"] else t("gradebook.no")
        public, private = ("" if row[key] is None else f"{row[key]:.4f}" for key in ("public", "private"))
        cells = [row["student"], row["assignment"], row["code"], yes_no, row["when"], row["times"], public,
                 private, row["run"], row["settings"]]
        writer.writerow([_cell(cell) for cell in cells] + row["answers"] + [""] * (answers - len(row["answers"])))
    return buffer.getvalue()
