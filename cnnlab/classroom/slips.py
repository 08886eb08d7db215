"""A page of slips to print and cut: one per student, with their nickname and personal code and where to type it.

The codes exist only when they are made (the database keeps their digests), so the Teacher page offers the slips
right after a roster is added. The page is plain HTML with its own print styles: no network, no script; every name
is escaped, so a nickname cannot add anything to it.
"""

import html

from cnnlab import i18n
from cnnlab.i18n import t

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #111; }
h1 { font-size: 1.2rem; } p.help { max-width: 42rem; }
.slips { display: grid; grid-template-columns: repeat(2, 1fr); gap: 0; }
.slip { border: 1px dashed #666; padding: 0.9rem 1rem; break-inside: avoid; page-break-inside: avoid; }
.nickname { font-size: 1.15rem; font-weight: 700; }
.code { font-family: ui-monospace, monospace; font-size: 1.6rem; letter-spacing: 0.05em; margin: 0.4rem 0; }
.how { font-size: 0.85rem; }
@media print { p.help, h1 { display: none; } body { margin: 0; } }
"""


def slips_html(class_name, rows, address, lang=None):
    """The bytes of an HTML page of slips for [(nickname, personal code)] of the class, in lang (the teacher's)."""
    with i18n.speaking(lang or i18n.get_language()):
        title = t("slips.title", klass=class_name)
        cards = "\n".join(
            f'<div class="slip"><div class="nickname">{html.escape(str(nickname))}</div>'
            f'<div class="code">{html.escape(str(code))}</div>'
            f'<div class="how">{html.escape(t("slips.how", klass=class_name, address=address or "cnnlab"))}</div>'
            f"</div>" for nickname, code in rows)
        page = (f'<!DOCTYPE html><html lang="{html.escape(i18n.get_language())}"><head><meta charset="utf-8">'
                f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
                f"<h1>{html.escape(title)}</h1><p class=\"help\">{html.escape(t('slips.help'))}</p>"
                f'<div class="slips">{cards}</div></body></html>')
    return page.encode("utf-8")
