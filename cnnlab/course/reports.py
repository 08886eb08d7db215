"""A lab report of one or several runs: what a course is graded on, drafted from what cnnlab measured.

The settings, parameter counts, learning curves, confusion matrix, per-class accuracy, the most confident
mistakes, the first layer's filters and the feature maps of one test image, the overfitting verdict and,
for a course report, each question answered with its numbers, all in the reader's language.

A report is first a list of blocks (headings, paragraphs, tables, figures), then written out as one HTML
file with its pictures inline (it prints to PDF from the browser) or as a zip of Markdown and PNG figures
for students who write in Word or LaTeX. Charts are drawn by Altair's own export (vl-convert), offline.
Every figure has a text alternative.
"""

import base64
import dataclasses
import datetime
import html
import io
import re
import zipfile

import numpy as np

from cnnlab import i18n, training
from cnnlab.course import comparisons
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t
from cnnlab.insight import charts, inspection
from cnnlab.networks import counting

MISTAKES_SHOWN = 8


@dataclasses.dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclasses.dataclass(frozen=True)
class Paragraph:
    text: str


@dataclasses.dataclass(frozen=True)
class Written:
    """Words a person typed (a student's note or answer) after the report's own label: shown as typed, line breaks
    kept, nothing of theirs read as markup (no bold, heading, link, image or HTML of theirs, in HTML or Markdown)."""
    label: str
    text: str


@dataclasses.dataclass(frozen=True)
class Table:
    headers: tuple
    rows: tuple


@dataclasses.dataclass(frozen=True)
class Figure:
    name: str  # file name in the Markdown zip: <name>.png
    png: bytes
    alt: str
    caption: str


# ---------------------------------------------------------------- pictures

def chart_png(chart, scale=2):
    """An Altair chart as PNG bytes, drawn by vl-convert (Altair's own export), with no network."""
    import vl_convert

    return bytes(vl_convert.vegalite_to_png(chart.to_json(), scale=scale))


def array_png(pixels):
    """A uint8 (h, w) or (h, w, 3) array as PNG bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _scale_for(image_shape, pixels=84):
    return max(1, pixels // image_shape[0])


# ---------------------------------------------------------------- one run

def _settings_table(run):
    config, record = run.config, run.record
    data = record["data"]
    rows = [
        (t("report.setting.dataset"), f"{run.info.title} ({run.variant_label})"),
        (t("report.setting.network"), config.architecture_name),
        (t("report.setting.params"), i18n.number(record["params"], ",")),
        (t("report.setting.optimizer"), config.optimizer),
        (t("report.setting.learning_rate"), i18n.number(config.learning_rate, "g")),
        (t("report.setting.batch_size"), i18n.number(config.batch_size)),
        (t("report.setting.epochs"), t("report.epochs_done", done=record["epochs_completed"], asked=config.epochs)),
        (t("report.setting.dropout"), t("report.dropout_own") if config.dropout is None
         else i18n.number(config.dropout, "g")),
        (t("report.setting.images"), t("report.images", train=data["train"], validation=data["validation"],
                                       test=data["test"])),
        (t("report.setting.augment"), t("common.yes") if config.augment else t("common.no")),
        (t("report.setting.seed"), str(config.seed)),
        (t("report.setting.seconds"), t("report.seconds", seconds=run.train_seconds)),
        (t("report.setting.run"), run.id),
    ]
    return Table((t("report.setting"), t("report.value")), tuple(rows))


def _layers_table(run):
    rows = counting.summarize(run.config.layers, run.info.image_shape, run.info.num_classes)
    return Table((t("report.layer"), t("report.output_shape"), t("report.layer_params")),
                 tuple((row.layer, "×".join(str(s) for s in row.output_shape), i18n.number(row.params, ","))
                       for row in rows))


def run_blocks(run, prefix="", level=2):
    """The blocks of one run's section; prefix names its figures apart from other runs' in one report."""
    info = run.info
    names = info.class_names
    blocks = _summary_blocks(run, info, level)
    blocks += _curve_blocks(run, prefix, level)
    probabilities, y_test = run.predictions()
    blocks += _confusion_blocks(run, names, prefix, level)
    try:
        data = run.data()
    except CnnlabError as error:  # the test images are not on this server: the pictures that need them say so
        blocks.append(Paragraph(str(error)))
        return blocks
    images = data.x_test
    blocks += _mistake_blocks(images, probabilities, y_test, info, prefix, level)
    blocks += _inside_blocks(run, images, probabilities, y_test, info, prefix, level)
    return blocks


def _summary_blocks(run, info, level):
    """The run's title and result, its settings and network, and why it stopped early if it did."""
    blocks = [Heading(t("report.run_title", name=run.config.architecture_name, dataset=info.title,
                        accuracy=run.test_accuracy), level),
              Paragraph(t("report.result", accuracy=run.test_accuracy, loss=run.test_loss,
                          params=run.record["params"], epochs=run.record["epochs_completed"])),
              Heading(t("report.settings"), level + 1), _settings_table(run),
              Heading(t("report.network"), level + 1), _layers_table(run)]
    if not run.complete:
        blocks.append(Paragraph(t("train.stopped_note", done=run.record["epochs_completed"], asked=run.config.epochs)))
    for note in run.record.get("notes", []):
        blocks.append(Paragraph(i18n.text(note)))
    return blocks


def _curve_blocks(run, prefix, level):
    """The learning curves and the overfitting verdict."""
    blocks = [Heading(t("report.curves"), level + 1)]
    curves = charts.learning_curves(run.history, title="")  # the heading above names it
    blocks.append(Figure(f"{prefix}learning_curves", chart_png(curves), curves.description or t("chart.curves_empty"),
                         t("report.curves_caption")))
    blocks.append(Paragraph(f"{t('train.overfit')} {inspection.overfitting_verdict(run.history).message}"))
    return blocks


def _confusion_blocks(run, names, prefix, level):
    """The confusion matrix, the pairs most confused and the accuracy of each class."""
    blocks = []
    matrix = np.asarray(run.metrics["confusion_matrix"])  # the run's own, counted when it was stored
    blocks.append(Heading(t("report.confusion"), level + 1))
    heatmap = charts.confusion_heatmap(matrix, names, title="")
    blocks.append(Figure(f"{prefix}confusion_matrix", chart_png(heatmap), heatmap.description,
                         t("report.confusion_caption")))
    confused = inspection.most_confused(matrix, names)
    if confused:
        blocks.append(Paragraph(t("report.most_confused", pairs=[t("report.pair", true=a, predicted=b, count=n)
                                                                 for a, b, n in confused])))
    per_class = training.per_class_accuracy(matrix)
    blocks.append(Heading(t("report.per_class"), level + 1))
    bars = charts.bars(per_class, names, "", t("chart.accuracy"), ".1%", domain=[0, 1])
    blocks.append(Figure(f"{prefix}per_class_accuracy", chart_png(bars), f"{t('report.per_class')}: {bars.description}",
                         t("report.per_class_caption", best=names[int(np.argmax(per_class))],
                           worst=names[int(np.argmin(per_class))])))
    return blocks


def _mistake_blocks(images, probabilities, y_test, info, prefix, level):
    """The most confident mistakes on the test images, as one picture and a table."""
    names = info.class_names
    blocks = []
    found = inspection.mistakes(probabilities, y_test)[:MISTAKES_SHOWN]
    blocks.append(Heading(t("report.mistakes"), level + 1))
    if found:
        scale = _scale_for(info.image_shape)
        shown = np.stack([images[m.index] for m in found]).astype(np.float32) / 255.0
        grid = inspection.to_uint8(inspection.tile(shown, columns=len(found), pad=2, scale=scale))
        described = [t("report.mistake", n=i + 1, true=names[m.true], predicted=names[m.predicted],
                       confidence=m.confidence) for i, m in enumerate(found)]
        blocks.append(Figure(f"{prefix}mistakes", array_png(grid), "; ".join(described),
                             t("report.mistakes_caption", count=len(found))))
        blocks.append(Table((t("report.position"), t("chart.true_class"), t("chart.predicted_class"),
                             t("report.confidence"), t("report.test_image")),
                            tuple((str(i + 1), names[m.true], names[m.predicted], i18n.percent(m.confidence, 1),
                                   str(m.index)) for i, m in enumerate(found))))
    else:
        blocks.append(Paragraph(t("report.no_mistakes")))
    return blocks


def _inside_blocks(run, images, probabilities, y_test, info, prefix, level):
    """Inside the network: the first conv layer's filters, one test image and its feature maps in two layers."""
    names = info.class_names
    blocks = []
    model = run.build_model()
    layers = inspection.conv_layer_names(model)
    blocks.append(Heading(t("report.inside"), level + 1))
    if not layers:
        blocks.append(Paragraph(t("report.no_conv")))
        return blocks
    grid, shape = inspection.filter_grid(model, layers[0])
    blocks.append(Figure(f"{prefix}filters", array_png(grid),
                         t("report.filters_alt", count=shape[0], size=shape[1], layer=layers[0]),
                         t("report.filters_caption", count=shape[0], size=shape[1])))
    extractor, names_ = inspection.feature_extractor(model)
    image = images[0]
    maps = inspection.feature_maps(extractor, names_, image)
    predicted = int(np.argmax(probabilities[0]))
    picture = inspection.to_uint8(inspection.upscale(np.asarray(image, dtype=np.float32) / 255.0,
                                                     _scale_for(info.image_shape, 112)))
    blocks.append(Figure(f"{prefix}test_image", array_png(picture.squeeze()),
                         t("report.image_alt", true=names[int(y_test[0])], predicted=names[predicted]),
                         t("report.image_caption", true=names[int(y_test[0])], predicted=names[predicted],
                           confidence=float(probabilities[0][predicted]))))
    for layer in layers[:2]:
        channels = maps[layer].shape[-1]
        shown = min(channels, 16)
        blocks.append(Figure(f"{prefix}feature_maps_{layer}",
                             array_png(inspection.feature_map_grid(maps[layer], shown)),
                             t("report.maps_alt", layer=layer, shown=shown, count=channels,
                               size=maps[layer].shape[0]),
                             t("report.maps_caption", layer=layer, shown=shown, count=channels)))
    return blocks


# ---------------------------------------------------------------- reports

def _comparison(runs):
    rows = tuple((r.id[:8], r.config.architecture_name, r.info.title, r.config.optimizer,
                  i18n.number(r.config.learning_rate, "g"), i18n.number(r.record["params"], ","),
                  str(r.record["epochs_completed"]), i18n.percent(r.test_accuracy), i18n.number(r.test_loss, ".4f"))
                 for r in runs)
    blocks = [Heading(t("report.comparison")),
              Table((t("report.col_run"), t("report.setting.network"), t("report.setting.dataset"),
                     t("report.setting.optimizer"), t("report.setting.learning_rate"), t("report.setting.params"),
                     t("report.setting.epochs"), t("train.test_acc"), t("train.test_loss")), rows)]
    labelled = [(f"{r.config.architecture_name} · {r.id[:6]}", r.history) for r in runs]
    for metric in ("accuracy", "loss"):
        chart = charts.comparison_curves(labelled, metric)
        blocks.append(Figure(f"comparison_{metric}", chart_png(chart), chart.description,
                             t("report.comparison_caption", metric=t(charts.METRICS[metric]))))
    best = max(runs, key=lambda r: r.test_accuracy)
    blocks.append(Paragraph(t("report.best", name=best.config.architecture_name, id=best.id[:8],
                              accuracy=best.test_accuracy)))
    blocks += [Paragraph(str(caveat)) for caveat in comparisons.caveats(runs, [r.id[:8] for r in runs])]
    return blocks


def blocks(runs, course=None, stored_runs=None, notes=None):
    """Every block of a report on runs; with course (a report letter), its questions answered first; notes: {run id:
    [what the student wrote on their requests for it]}, under each run's title."""
    from cnnlab.course import experiments

    if not runs:
        raise CnnlabError("error.report.no_runs")
    title = (t("report.course_title", report=course) if course else
             t("report.title_one", name=runs[0].config.architecture_name, dataset=runs[0].info.title)
             if len(runs) == 1 else t("report.title_many", count=len(runs)))
    made = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    out = [Heading(title, 1), Paragraph(t("report.made", when=made, count=len(runs)))]
    if course:
        out.append(Heading(t("report.questions")))
        for answer in experiments.answers(course, stored_runs if stored_runs is not None else runs):
            out.append(Paragraph(f"**{t(experiments.QUESTION_TEXT[answer.question])}** {answer.text}"))
    if len(runs) > 1:
        out += _comparison(runs)
    for i, run in enumerate(runs):
        section = run_blocks(run, prefix=f"run{i + 1}_" if len(runs) > 1 else "", level=2)
        written = (notes or {}).get(run.id)
        out += section[:1] + ([Written(t("report.notes"), "\n".join(written))] if written else []) + section[1:]
    return out


# ---------------------------------------------------------------- writers

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.7rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ccc; } h3 { margin-top: 1.5rem; }
table { border-collapse: collapse; margin: 0.6rem 0; } th, td { border: 1px solid #bbb; padding: 0.2rem 0.6rem;
text-align: left; } th { background: #f0f0f0; }
figure { margin: 0.8rem 0; } figure img { max-width: 100%; height: auto; image-rendering: pixelated; }
figcaption { font-size: 0.9rem; color: #333; }
@media print { body { margin: 0; max-width: none; } h2 { break-before: auto; } figure, table { break-inside: avoid; } }
@page { margin: 1.5cm; }
"""


MARKUP = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~])")  # what Markdown (or the HTML inside it) could read as markup


def _inline(text):
    """Escaped text with **bold** kept (the only markup the report's sentences use)."""
    parts = html.escape(str(text)).split("**")
    return "".join(f"<strong>{part}</strong>" if i % 2 else part for i, part in enumerate(parts))


def to_html(report_blocks, lang=None):
    """One self-contained HTML page: styles and pictures inline."""
    lang = lang or i18n.get_language()
    title = next((b.text for b in report_blocks if isinstance(b, Heading)), "cnnlab")
    body = []
    for block in report_blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Written):
            body.append(f"<p>{_inline(block.label)} {html.escape(block.text).replace(chr(10), '<br>')}</p>")
        elif isinstance(block, Table):
            head = "".join(f"<th scope=\"col\">{_inline(h)}</th>" for h in block.headers)
            rows = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in block.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        else:
            data = base64.b64encode(block.png).decode("ascii")
            body.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(block.alt, quote=True)}">'
                        f"<figcaption>{_inline(block.caption)}</figcaption></figure>")
    return (f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{html.escape(title)}</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n")


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(report_blocks):
    """(report.md text, {figures/<name>.png: bytes})."""
    lines, files = [], {}
    for block in report_blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            lines += [block.text, ""]
        elif isinstance(block, Written):  # each of their lines kept as a line break; every markup character escaped
            typed = "  \n".join(MARKUP.sub(r"\\\1", line) for line in block.text.splitlines() if line.strip())
            lines += [f"{block.label} {typed}", ""]
        elif isinstance(block, Table):
            lines.append("| " + " | ".join(_cell(h) for h in block.headers) + " |")
            lines.append("|" + "---|" * len(block.headers))
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
            lines.append("")
        else:
            path = f"figures/{block.name}.png"
            files[path] = block.png
            alt = block.alt.replace("[", "(").replace("]", ")").replace("\n", " ")
            lines += [f"![{alt}]({path})", "", f"*{block.caption}*", ""]
    return "\n".join(lines), files


def report_html(runs, course=None, stored_runs=None, notes=None):
    """The lab report of runs (and of a course report's questions) as one self-contained HTML page."""
    return to_html(blocks(runs, course, stored_runs, notes))


def report_zip(runs, course=None, stored_runs=None, notes=None):
    """The lab report as a zip: report.md and its figures/*.png."""
    text, files = to_markdown(blocks(runs, course, stored_runs, notes))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("report.md", text)
        for path, data in files.items():
            archive.writestr(path, data)
    return buffer.getvalue()
