"""`python -m cnnlab compare RUN_A RUN_B [--groups] [--json]`: is the difference between two runs real? And
`python -m cnnlab repeat RUN_ID --seeds N [--json]`: the same settings with N more seeds, for a group to compare.

Two runs scored on the same test images are compared image by image (McNemar's test and a paired bootstrap interval,
cnnlab.course.statistics); with --groups each run stands for its group of seeds (the stored runs that differ from it
only in the seed) and the groups are compared. Runs that cannot be compared (other test images, one seed) are one line
and exit code 2; with --json their JSON, test null and the reason, is printed first.

`repeat` trains each seed the way `train` does (cli.commands: the run store, the executor, the progress bar), so a seed
already stored comes from the store and each new one is a run of its own. The seeds are the N lowest other than the
run's own: asking again for as many trains nothing.
"""

import dataclasses
import json
import sys

from cnnlab.cli.output import EXIT_BAD_INPUT, emit
from cnnlab.course import comparisons, exports, statistics
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t


def _group_json(group):
    return [{"run_id": run.id, "seed": run.config.seed, "test_accuracy": run.test_accuracy} for run in group]


def cmd_compare(args):
    from cnnlab import runs

    store = runs.RunStore()
    run_a, run_b = (exports.find_run(store, text) for text in (args.run_a, args.run_b))
    data = {"run_a": run_a.id, "run_b": run_b.id, "a_accuracy": run_a.test_accuracy,
            "b_accuracy": run_b.test_accuracy}
    lines = [t("stats.cli.runs", a=run_a.id, b=run_b.id, a_accuracy=run_a.test_accuracy,
               b_accuracy=run_b.test_accuracy)]
    if args.groups:
        compared, group_a, group_b = comparisons.groups(run_a, run_b, store.list())
        lines += [comparisons.group_summary("A", group_a), comparisons.group_summary("B", group_b)]
        data.update(group_a=_group_json(group_a), group_b=_group_json(group_b))
    else:
        compared = comparisons.paired(run_a, run_b)
    data.update(compared.as_dict(), verdict=str(compared.verdict()), notes=[str(note) for note in compared.notes()])
    if compared.test is None:
        if args.json:
            print(json.dumps(data))
        print(f"cnnlab: {compared.reason}", file=sys.stderr)
        return EXIT_BAD_INPUT
    lines += [str(compared.details()), str(compared.verdict())] + [str(note) for note in compared.notes()]
    return emit(args, lines, data)



MOST_SEEDS = 20  # seeds one `repeat` may add


def cmd_repeat(args):
    from cnnlab import runs
    from cnnlab.cli.commands import _train_quietly
    from cnnlab.data import datasets

    if not 1 <= args.seeds <= MOST_SEEDS:
        raise CnnlabError("repeat.bad_seeds", seeds=args.seeds, most=MOST_SEEDS)
    store = runs.RunStore()
    run = exports.find_run(store, args.run_id)
    if datasets.load(run.config.dataset).fingerprint != run.record["data"].get("fingerprint"):
        raise CnnlabError("repeat.other_data", id=run.id, variant=run.variant_label)  # the seeds would not be a group
    lines, trained = [], []
    for seed in comparisons.more_seeds(run, args.seeds):
        done, cached, seconds = _train_quietly(store, dataclasses.replace(run.config, seed=seed))
        how = t("cli.from_store") if cached else t("cli.trained_in", seconds=done.train_seconds)
        lines.append(t("repeat.seed_line", seed=seed, id=done.id, accuracy=done.test_accuracy, how=how))
        trained.append({"seed": seed, "run_id": done.id, "test_accuracy": done.test_accuracy, "cached": cached,
                        "seconds": seconds})
    group = comparisons.group_of(run, store.list())
    mean, deviation = statistics.spread([member.test_accuracy for member in group])
    lines.append(comparisons.group_summary(run.id[:8], group))
    return emit(args, lines, {"run_id": run.id, "seeds": trained, "group": [member.id for member in group],
                              "accuracies": [member.test_accuracy for member in group], "mean": mean,
                              "deviation": deviation})
