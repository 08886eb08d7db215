"""The printable slips of a roster: one per student, their code, in the teacher's language, nothing a nickname adds."""

import html.parser

from cnnlab.classroom import slips


class Texts(html.parser.HTMLParser):
    """The page's elements and texts, as a browser would parse them."""

    def __init__(self):
        super().__init__()
        self.tags, self.texts, self.slips = [], [], 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.slips += ("class", "slip") in attrs

    def handle_data(self, data):
        self.texts.append(data)


def parse(page):
    parser = Texts()
    parser.feed(page.decode("utf-8"))
    return parser


def test_one_slip_per_student_with_their_code_and_where_to_type_it():
    rows = [("Ana", "kiwi-mango-4821"), ("Luis", "pear-lime-0042")]
    page = parse(slips.slips_html("CNN 2027", rows, "http://10.0.0.5:8501", "en"))
    assert page.slips == 2
    text = " ".join(page.texts)
    for nickname, code in rows:
        assert nickname in page.texts and code in page.texts
    assert "open http://10.0.0.5:8501, choose My code in the sidebar" in text
    assert "<script" not in slips.slips_html("x", rows, None).decode() and "http" not in slips.STYLE


def test_a_nickname_or_a_class_name_adds_nothing_to_the_page():
    hostile = '<img src=x onerror=alert(1)><script>alert(2)</script>'
    page = parse(slips.slips_html(hostile, [(hostile, "kiwi-mango-4821")], "http://x", "en"))
    assert "img" not in page.tags and "script" not in page.tags
    assert hostile in page.texts  # shown as the letters typed


def test_the_slips_speak_the_teachers_language():
    text = " ".join(parse(slips.slips_html("5A", [("Ana", "kiwi-mango-4821")], "http://x", "es")).texts)
    assert "elige Mi código en la barra lateral" in text and "Códigos personales de 5A" in text
