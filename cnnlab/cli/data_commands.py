"""`python -m cnnlab data`: where each dataset comes from, downloads, CIFAR-10's archive, and a class's own
pictures (survey, import, delete)."""

import sys

from cnnlab import i18n
from cnnlab.cli.output import emit
from cnnlab.data import catalogue, datasets, sources
from cnnlab.i18n import t


class _DownloadProgress:
    """Download progress on stderr: redrawn in place on a terminal, a line every 10 % otherwise."""

    def __init__(self, stream=sys.stderr):
        self.stream, self.live, self.shown = stream, stream.isatty(), -1

    def __call__(self, progress):
        tenth = int(progress.fraction * 10)
        if self.live:
            self.stream.write("\r" + progress.describe() + " " * 8)
        elif tenth > self.shown:
            self.stream.write(progress.describe() + "\n")
            self.shown = tenth
        self.stream.flush()


def _survey(args):
    """What a folder or zip of class folders holds, as `data --survey` prints it (nothing is written)."""
    from cnnlab.data import own_survey

    survey = own_survey.survey(args.survey)
    height, width, channels = survey.shape
    lines = [t("cli.survey_title", path=survey.source, images=survey.images, classes=len(survey.classes))]
    lines += [t("cli.survey_class", name=f"{name:<20}", count=count) for name, count in survey.counts().items()]
    lines += [t("cli.survey_sizes", sizes=", ".join(f"{w}×{h} ({n})" for (w, h), n in survey.sizes.most_common(5)),
                shape=f"{height}×{width}", colour=t("cli.survey_colour") if channels == 3 else t("cli.survey_grey"))]
    lines += [t("cli.survey_skipped", name=name, why=why) for name, why in survey.skipped]
    lines += [t("cli.warning", text=warning) for warning in survey.warnings]
    return emit(args, lines, {"source": survey.source, "classes": survey.counts(), "images": survey.images,
                              "skipped": [{"file": name, "reason": str(why)} for name, why in survey.skipped],
                              "sizes": {f"{w}x{h}": n for (w, h), n in survey.sizes.items()},
                              "shape": list(survey.shape), "warnings": [str(w) for w in survey.warnings]})


def _import_own(args):
    """`data --import FOLDER_OR_ZIP --name NAME`: survey, import, and one line with what was stored."""
    from cnnlab.data import own_images, own_survey

    test_share = own_images.TEST_SHARE if args.test_share is None else args.test_share
    own_images.check_settings(args.name, test_share)  # refused before a picture is read
    shape = own_images.parse_shape(args.shape) if args.shape else None
    found = own_survey.survey(args.import_archive)
    info = own_images.import_images(args.import_archive, args.name, shape=shape, test_share=test_share,
                                    seed=args.seed, survey_=found)
    for warning in found.warnings:  # said once it is imported: a refusal stays one line
        print(t("cli.warning", text=warning), file=sys.stderr)
    if found.skipped:
        print(t("cli.own_skipped", count=len(found.skipped)), file=sys.stderr)
    height, width, channels = info.image_shape
    line = t("cli.own_imported", title=info.title, name=info.name, classes=len(info.classes),
             train=info.full_sizes[0], test=info.full_sizes[1], shape=f"{height}×{width}×{channels}",
             fingerprint=info.fingerprint)
    return emit(args, [line], {"dataset": info.name, "title": info.title, "classes": list(info.classes),
                               "train": info.full_sizes[0], "test": info.full_sizes[1],
                               "shape": list(info.image_shape), "fingerprint": info.fingerprint,
                               "skipped": [{"file": name, "reason": str(why)} for name, why in found.skipped]})


def _delete_own(args):
    from cnnlab import runs
    from cnnlab.data import own_images

    deleted = own_images.delete(args.delete, runs.RunStore())
    return emit(args, [t("cli.own_deleted", name=args.delete.lower(), runs=deleted)],
                {"deleted": args.delete.lower(), "runs": deleted})


def cmd_data(args):
    if args.survey:
        return _survey(args)
    if args.delete:
        return _delete_own(args)
    if args.import_archive and args.name:
        return _import_own(args)
    if args.import_archive:
        from cnnlab.data import archives

        source = archives.import_cifar(args.import_archive)
        print(t("cli.imported", title="CIFAR-10", path=source.path))
    if args.download:
        from cnnlab.data import downloads

        info = catalogue.get_info(args.download)
        source = downloads.download(info.name, on_progress=_DownloadProgress())
        print(("\n" if sys.stderr.isatty() else "") + t("cli.downloaded", title=info.title, path=source.path))
    lines, data = [], []
    for row in sources.describe_sources():
        source = row["source"]
        if source is None:
            lines.append(f"{row['title']:<14} {t('home.not_available')} — {row['how_to_get']}")
            data.append({"dataset": row["dataset"], "available": False, "how_to_get": row["how_to_get"]})
            continue
        dataset = datasets.load(row["dataset"], source=source)
        lines.append(t("cli.data_row", title=f"{row['title']:<14}", train=f"{i18n.number(len(dataset.x_train), ','):>6}",
                       test=f"{i18n.number(len(dataset.x_test), ','):>6}", source=source.describe(),
                       variant=dataset.variant_label))
        data.append({"dataset": row["dataset"], "available": True, "source": source.kind, "path": source.path,
                     "variant": dataset.variant, "fingerprint": dataset.fingerprint,
                     "train": len(dataset.x_train), "test": len(dataset.x_test)})
    return emit(args, lines, data)
