"""What a Course answer that compares two experiments rests on: their groups of seeds when both have them, else one run.

A course report concludes from one run per setting ("Adam is better than Adadelta"); one run is one draw, and another
seed moves its accuracy. Each answer of cnnlab.course.experiments that compares two experiments ends with one sentence
from here per pair it compared: when both experiments have more than one seed stored (runs that differ only in the
seed, cnnlab.course.comparisons.group_of), the groups' means and spreads and the verdict of comparing them
(cnnlab.course.statistics: a permutation test or Welch's), with the note that few seeds are little evidence; else that
the answer rests on one run, of which experiment, and how to get more.
"""

import dataclasses

from cnnlab.course import comparisons, statistics
from cnnlab.i18n import Message

COMPARED = {  # question -> report -> the pairs of experiments its answer compares
    "which_model": {"A": [("A1", "A2"), ("A3", "A4")], "C": [("C1", "C2"), ("C3", "C4")],
                    "E": [("E1", "E4"), ("E1", "E5")]},
    "which_optimizer": {"A": [("A5", "A6")]},
    "longer": {"B": [("B1", "B2")], "D": [("D1", "D2")]},
}


def weighed(answer, report, done, stored_runs):
    """The answer with, for each pair of experiments it compared, what that comparison rests on (an answer that
    could not be made is left as it is)."""
    if not answer.answered:
        return answer
    extra = [part for first, second in COMPARED.get(answer.question, {}).get(report, [])
             for part in pair(first, second, done, stored_runs)]
    return dataclasses.replace(answer, parts=tuple(answer.parts) + tuple(extra))


def group_message(label, group):
    """'A5: 3 seeds, mean 98.10% ± 0.12% (± one standard deviation); each seed: …' as a Message."""
    mean, deviation = statistics.spread([run.test_accuracy for run in group])
    values = [Message("stats.seed_value", seed=run.config.seed, accuracy=run.test_accuracy) for run in group]
    return Message("stats.group", label=label, count=len(group), mean=mean, deviation=deviation, values=values)


def pair(first, second, done, stored_runs):
    """[Message]: experiments first and second compared on their groups of seeds, or said to rest on one run."""
    if first not in done or second not in done or done[first].id == done[second].id:
        return []
    compared, group_a, group_b = comparisons.groups(done[first], done[second], stored_runs, labels=(first, second))
    alone = [label for label, group in ((first, group_a), (second, group_b)) if len(group) < 2]
    if alone:
        return [Message("answer.one_run", ids=alone, first=first, second=second)]
    if compared.test is None:
        return [compared.reason]
    return [Message("answer.groups", first=group_message(first, group_a), second=group_message(second, group_b),
                    verdict=compared.verdict(first, second)), *compared.notes()]
