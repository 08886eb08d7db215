"""Taking the class home (#32): every hand-in's lab report of an assignment, its gradebook, and the class's own report
(what the class learned together, in pictures: its sweep, its mistakes, its leaderboard), in one zip for the class's
teacher (cnnlab.course.handins and cnnlab.insight.class_views decide who may read them: the class's teacher and the
owner)."""

import io
import re
import unicodedata
import zipfile

from cnnlab import i18n
from cnnlab.course import gradebook, handins, leaderboard, reports
from cnnlab.i18n import t
from cnnlab.insight import class_charts, class_views, inspection

SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_name(number, nickname):
    """A report's name in the zip: its number, then the nickname as plain letters ("03-maria-jose.html"); a nickname
    never becomes a path, and one with no plain letter at all is the word for a student ("04-student.html")."""
    name = _plain(nickname) or _plain(t("classreport.student_file"))
    return f"{number:02d}-{name}.html" if name else f"{number:02d}.html"


def _plain(text):
    """text as letters, digits, dots and dashes only (accents dropped, the rest a dash), at most 40 of them."""
    ascii_only = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return SAFE.sub("-", ascii_only).strip(".-")[:40]


def reports_zip(who, assignment, store):
    """The zip's bytes: one HTML lab report per student who handed the assignment in (by nickname), the assignment's
    gradebook-CODE.csv (every student of the class, handed in or not) and class-CODE.html (class_blocks)."""
    found = io.BytesIO()
    with zipfile.ZipFile(found, "w", zipfile.ZIP_DEFLATED) as archive:
        handed = [(nickname, row) for nickname, row in handins.of_assignment(who, assignment) if row.handed_at]
        for number, (nickname, row) in enumerate(handed, start=1):
            archive.writestr(file_name(number, nickname), handins.report(who, row, store))
        book = gradebook.csv_text(who, assignment.class_id, store, assignment)
        archive.writestr(f"gradebook-{assignment.code}.csv", book)
        archive.writestr(f"class-{assignment.code}.html", reports.to_html(class_blocks(who, assignment, store)))
    return found.getvalue()


def class_blocks(who, assignment, store):
    """The class's report of an assignment, in the report's blocks (cnnlab.course.reports): the sweep as a picture
    with the luck in a single run, the class's mistakes with the pairs most networks confuse and their images, and
    the leaderboard with every private score; for the class's teacher and the owner (class_views asks)."""
    class_views.require_filters(who, assignment.class_id, assignment.id)  # the teacher's view, names included
    out = [reports.Heading(t("classreport.title", title=assignment.title), 1)]
    found = class_views.datasets_of(who, assignment.class_id, assignment.id)
    if not found:
        return out + [reports.Paragraph(t("classview.empty"))]
    dataset = found[0][0]
    sweep = class_views.sweep(who, assignment.class_id, assignment.id, dataset, names=True, store=store)
    out.append(reports.Heading(t("classview.sweep")))
    if sweep.rows:
        out.append(reports.Figure("class-sweep", reports.chart_png(class_charts.sweep_chart(sweep.rows)),
                                  class_charts.sweep_text(sweep.rows), t("classview.sweep_text")))
    out.append(reports.Paragraph(i18n.text(sweep.luck)))
    out += _mistake_blocks(class_views.mistakes(who, assignment.class_id, assignment.id, dataset, store=store))
    out.append(reports.Heading(t("leaderboard.title")))
    entries = leaderboard.board(who, assignment, store)
    out.append(reports.Table((t("leaderboard.col_rank"), t("leaderboard.col_student"), t("leaderboard.col_public"),
                              t("leaderboard.col_private")),
                             tuple((str(e.rank), e.name or "", i18n.percent(e.public),
                                    "—" if e.private is None else i18n.percent(e.private)) for e in entries)))
    return out


def _mistake_blocks(found):
    out = [reports.Heading(t("classview.mistakes"))]
    if found.matrix is None:
        return out
    messages = [i18n.text(pair.message) for pair in found.pairs]
    chart = class_charts.class_confusion(found.matrix, found.class_names, found.networks, messages)
    out.append(reports.Figure("class-mistakes", reports.chart_png(chart), chart.description or
                              t("classview.mistakes"), t("classview.mistakes_text")))
    for number, (pair, message) in enumerate(zip(found.pairs, messages), start=1):
        out.append(reports.Paragraph(message))
        for shown, example in enumerate(pair.examples[:3], start=1):
            true, predicted = found.class_names[example.true], found.class_names[example.predicted]
            words = dict(index=example.index, true=true, pred=predicted, networks=example.networks)
            out.append(reports.Figure(f"class-pair{number}-{shown}", reports.array_png(
                inspection.upscale(example.image, 3)), t("classview.example_alt", **words),
                t("classview.example_caption", **words)))
    return out
