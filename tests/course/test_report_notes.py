"""A lab report carries what its student wrote on their requests (#33): their notes and tags under each run's title,
in the HTML and the Markdown alike; a report of nobody's (the command line) has none."""

import io
import re
import zipfile

from cnnlab.course import reports
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)


def test_the_notes_come_right_under_the_runs_title(stored):
    run = stored(TrainConfig(**TINY))
    notes = {run.id: ["the dropout one [dropout, seed study]", "why did it overfit?"]}
    made = reports.blocks([run], notes=notes)
    assert isinstance(made[2], reports.Heading) and made[3] == reports.Written(
        "Your notes:", "the dropout one [dropout, seed study]\nwhy did it overfit?")  # one line each, as written
    assert reports.blocks([run])[3] != made[3] and len(reports.blocks([run])) == len(made) - 1
    assert "Your notes: the dropout one [dropout, seed study]" in reports.report_html([run], notes=notes)
    with zipfile.ZipFile(io.BytesIO(reports.report_zip([run], notes=notes))) as archive:
        assert "Your notes: the dropout one \\[dropout, seed study\\]  \nwhy did it overfit?" in \
            archive.read("report.md").decode()


def test_what_a_student_typed_is_shown_as_typed_never_read_as_markup():
    """A note (or an answer) goes into the report the teacher opens: its markup characters are theirs, not the
    report's (no bold, heading, image, link or HTML of theirs, in the HTML page or the Markdown)."""
    from cnnlab.course import reports

    typed = "see **this\n\n# Not a heading\n<img src=x onerror=alert(1)> ![t](http://tracker/p.png) [x](javascript:1)"
    markdown, _ = reports.to_markdown([reports.Written("**Notes:**", typed)])
    lines = markdown.splitlines()
    assert lines[0].startswith("**Notes:** see \\*\\*this") and lines[1].startswith("\\# Not a heading")
    assert not re.search(r"(?<!\\)(!\[|\]\(|<img)", markdown)  # none left unescaped: an image, a link, HTML
    assert "\\<img src=x" in markdown
    page = reports.to_html([reports.Written("**Notes:**", typed)])
    assert "<strong>Notes:</strong> see **this<br><br># Not a heading<br>&lt;img src=x" in page
    assert "<img src=x" not in page and "<strong>this" not in page
