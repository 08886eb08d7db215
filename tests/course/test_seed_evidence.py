"""The Course page's answers (#33) use the groups of seeds when both experiments have them, and say when an answer
rests on one run."""

import dataclasses

from test_experiments import fake_run

from cnnlab import runs
from cnnlab.course import comparisons, experiments, statistics


def seeded(experiment_id, accuracies, loss=1.0):
    """One fake run of an experiment per accuracy, seeds 0, 1, 2, … (their settings differ only in the seed)."""
    experiment = experiments.get(experiment_id)
    made = []
    for seed, accuracy in enumerate(accuracies):
        base = fake_run(experiment, accuracy, loss, 3)
        made.append(runs.Run(f"{experiment_id.lower()}{seed:015x}", None, dataclasses.replace(base.config, seed=seed),
                             base.record))
    return made


def optimizer_answer(stored):
    return next(a for a in experiments.answers("A", stored) if a.question == "which_optimizer")


def test_an_answer_from_one_run_of_each_says_it_rests_on_one_run():
    text = optimizer_answer(seeded("A5", [0.62]) + seeded("A6", [0.34])).text
    assert "This comparison of A5 and A6 rests on one run of A5 and A6: one seed is one draw" in text, text
    text = optimizer_answer(seeded("A5", [0.62, 0.61, 0.63]) + seeded("A6", [0.34])).text
    assert "rests on one run of A6:" in text and "Over their seeds" not in text  # only the side that is alone


def test_with_groups_of_seeds_the_answer_gives_each_groups_mean_and_the_verdict_of_comparing_them():
    adam, adadelta = [0.62, 0.61, 0.63], [0.34, 0.36, 0.35]
    a5, a6 = seeded("A5", adam), seeded("A6", adadelta)
    text = optimizer_answer(a5 + a6).text
    expected = statistics.groups(adam, adadelta)  # the oracle: the statistics of the same numbers
    assert expected.test == "permutation"
    assert str(expected.verdict("A5", "A6")) in text, text
    mean, deviation = statistics.spread(adam)
    assert f"Over their seeds: A5: 3 seeds, mean {mean:.2%} ± {deviation:.2%}" in text
    assert "seed 0: 62.00%, seed 1: 61.00% and seed 2: 63.00%" in text
    assert all(str(note) in text for note in expected.notes())  # three seeds is little evidence, said
    assert "rests on one run" not in text
    compared, group_a, _ = comparisons.groups(a5[0], a6[0], a5 + a6, labels=("A5", "A6"))
    assert [run.id for run in group_a] == [run.id for run in a5]


def test_the_model_answer_weighs_the_pair_it_compared():
    def which_model(stored):
        return next(a for a in experiments.answers("A", stored) if a.question == "which_model").text

    assert "Over their seeds: A1: 2 seeds" in which_model(seeded("A1", [0.98, 0.979]) + seeded("A2", [0.97, 0.972]))
    assert "rests on one run of A1:" in which_model(seeded("A1", [0.98]) + seeded("A2", [0.97, 0.972]))


def test_a_stopped_run_is_never_averaged_with_full_length_seeds():
    """Its settings ask for as many epochs as its seeds ran: in their group, its accuracy after one epoch would move
    the group's mean and spread."""
    a5 = seeded("A5", [0.62, 0.61, 0.63])
    stopped = runs.Run(a5[0].id, None, a5[0].config, {**a5[0].record, "status": "stopped"})
    assert [run.id for run in comparisons.group_of(stopped, [stopped] + a5[1:])] == [stopped.id]
    assert [run.id for run in comparisons.group_of(a5[1], [stopped] + a5[1:])] == [a5[1].id, a5[2].id]
