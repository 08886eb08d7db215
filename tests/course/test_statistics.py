"""Is the difference real (#33): McNemar, the paired bootstrap, Welch and the permutation test against SciPy's on the
same numbers; the interval's coverage on predictions with a known difference; the verdict's words; runs on different
test images refused with the reason."""

import dataclasses
import itertools

import numpy as np
import pytest
from scipy import stats as scipy_stats

from cnnlab import i18n
from cnnlab.course import comparisons, statistics
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=3, batch_size=32, train_size=640, validation_split=0.25)


def answers(kinds, classes=10, seed=0):
    """(predicted A, predicted B, y_test) from each image's kind: 0 both right, 1 A right B wrong, 2 A wrong B right,
    3 both wrong."""
    rng = np.random.default_rng(seed)
    kinds = np.asarray(kinds)
    y_test = rng.integers(0, classes, kinds.size)
    wrong = (y_test + rng.integers(1, classes, kinds.size)) % classes
    predicted_a = np.where(np.isin(kinds, (0, 1)), y_test, wrong)
    predicted_b = np.where(np.isin(kinds, (0, 2)), y_test, wrong)
    return predicted_a, predicted_b, y_test


@pytest.mark.parametrize("b, c", [(0, 0), (0, 1), (3, 3), (1, 9), (12, 5), (0, 24), (7, 17)])
def test_mcnemar_under_25_discordant_images_is_scipys_exact_binomial_test(b, c):
    test, p_value = statistics.mcnemar(b, c)
    assert test == "mcnemar-exact"
    expected = scipy_stats.binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    assert p_value == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("b, c", [(12, 13), (20, 40), (177, 264), (500, 480), (30, 30), (1000, 1300)])
def test_mcnemar_from_25_discordant_images_is_the_corrected_chi_square(b, c):
    test, p_value = statistics.mcnemar(b, c)
    assert test == "mcnemar"
    expected = scipy_stats.chi2.sf(max(abs(b - c) - 1, 0) ** 2 / (b + c), df=1)
    assert p_value == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_a_paired_comparison_counts_the_images_each_gets_right_alone():
    kinds = [0] * 900 + [1] * 60 + [2] * 30 + [3] * 10
    compared = statistics.paired(*answers(kinds))
    assert (compared.n_test, compared.a_right_b_wrong, compared.a_wrong_b_right) == (1000, 60, 30)
    assert compared.difference == pytest.approx(0.03) and compared.test == "mcnemar"
    assert compared.p_value == pytest.approx(scipy_stats.chi2.sf(29 ** 2 / 90, df=1))
    low, high = compared.interval
    assert low < 0.03 < high


def test_the_bootstrap_is_the_same_as_resampling_image_indices():
    """The multinomial shortcut against the textbook bootstrap: 2,000 resamples of the images' indices."""
    kinds = [0] * 400 + [1] * 50 + [2] * 30 + [3] * 20
    predicted_a, predicted_b, y_test = answers(kinds)
    differences = (predicted_a == y_test).astype(int) - (predicted_b == y_test)
    rng = np.random.default_rng(7)
    resampled = differences[rng.integers(0, differences.size, (statistics.RESAMPLES, differences.size))].mean(axis=1)
    textbook = np.quantile(resampled, [0.025, 0.975])
    assert statistics.bootstrap_interval(50, 30, 500) == pytest.approx(tuple(textbook), abs=0.006)


def test_the_interval_covers_the_true_difference_in_at_least_90_of_200_trials():
    shares = [0.80, 0.12, 0.06, 0.02]  # both right, A alone, B alone, both wrong: A is better by 6 points
    true_difference = shares[1] - shares[2]
    rng = np.random.default_rng(33)
    covered = 0
    for trial in range(200):
        kinds = rng.choice(4, size=300, p=shares)
        low, high = statistics.paired(*answers(kinds, seed=trial), seed=trial).interval
        covered += low <= true_difference <= high
    assert covered >= 180, covered


@pytest.mark.parametrize("statistic, df", [(0.0, 3), (1.5, 2.4), (-2.7, 7.9), (4.0, 1), (12.0, 30.5), (0.3, 150)])
def test_the_t_distribution_is_scipys(statistic, df):
    assert statistics.t_two_sided(statistic, df) == pytest.approx(2 * scipy_stats.t.sf(abs(statistic), df), rel=1e-9)
    assert statistics.t_quantile(0.975, df) == pytest.approx(scipy_stats.t.ppf(0.975, df), rel=1e-9)


@pytest.mark.parametrize("a, b", [([0.981, 0.979, 0.983], [0.975, 0.972, 0.977]),
                                  ([0.70, 0.74, 0.69, 0.71, 0.73], [0.72, 0.71]),
                                  ([0.5, 0.6, 0.55, 0.52, 0.58, 0.61, 0.49, 0.57, 0.6, 0.5, 0.53, 0.56],
                                   [0.48, 0.5, 0.47, 0.55, 0.51, 0.49, 0.46, 0.52, 0.5, 0.47, 0.53, 0.45])])
def test_welch_is_scipys_ttest_ind_with_unequal_variances(a, b):
    statistic, _, p_value = statistics.welch(a, b)
    expected = scipy_stats.ttest_ind(a, b, equal_var=False)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert statistics.welch_interval(a, b) == pytest.approx(tuple(expected.confidence_interval(0.95)), rel=1e-9)


@pytest.mark.parametrize("a, b", [([0.981, 0.979, 0.983], [0.975, 0.972, 0.977]),
                                  ([0.70, 0.74, 0.69, 0.71, 0.73], [0.72, 0.71]),
                                  ([0.9, 0.9, 0.91], [0.9, 0.92, 0.9, 0.9]),  # ties
                                  ([0.6, 0.62, 0.58, 0.65, 0.61, 0.6, 0.64], [0.59, 0.6, 0.57, 0.6, 0.58, 0.56])])
def test_the_permutation_test_is_scipys_exact_one(a, b):
    def mean_difference(x, y, axis):
        return np.mean(x, axis=axis) - np.mean(y, axis=axis)

    expected = scipy_stats.permutation_test((a, b), mean_difference, permutation_type="independent",
                                            alternative="two-sided", n_resamples=np.inf, vectorized=True)
    assert statistics.permutation(a, b) == pytest.approx(expected.pvalue, rel=1e-12)


def test_few_seeds_take_the_permutation_test_many_take_welchs():
    few = statistics.groups([0.98, 0.979, 0.983], [0.975, 0.972, 0.977])
    assert few.test == "permutation" and few.p_value == pytest.approx(0.1)  # 2 of the 20 splits are as extreme
    assert [note.key for note in few.notes()] == ["stats.few_seeds", "stats.smallest_p"]
    many = statistics.groups(np.linspace(0.90, 0.92, 12), np.linspace(0.89, 0.91, 12))
    assert many.test == "welch" and statistics.splits(12, 12) > statistics.MAX_SPLITS
    assert many.p_value == pytest.approx(scipy_stats.ttest_ind(np.linspace(0.90, 0.92, 12), np.linspace(
        0.89, 0.91, 12), equal_var=False).pvalue)
    assert many.notes() == []
    alone = statistics.groups([0.98], [0.97, 0.96])
    assert alone.test is None and str(alone.verdict()) == (
        "Each group needs at least two seeds to measure the spread between seeds (here 1 and 2): repeat the runs with "
        "more seeds first.")


def test_the_verdict_in_plain_words_in_english_and_spanish():
    kinds = [0] * 8000 + [1] * 120 + [2] * 240 + [3] * 1640  # B right alone on twice as many images
    compared = statistics.paired(*answers(kinds))
    low, high = (-point * 100 for point in compared.interval)
    assert str(compared.verdict()) == (
        f"B is better by 1.2 points ({high:.1f} to {low:.1f}); if the two networks were equally good, a split of "
        "disagreements this uneven would come up less than 1 time in 1,000.")
    i18n.set_language("es")
    high, low = i18n.number(high, ".1f"), i18n.number(low, ".1f")
    assert str(compared.verdict()) == (
        f"B es mejor por 1,2 puntos (de {high} a {low}); si las dos redes fueran igual de buenas, un reparto de "
        "desacuerdos tan desigual saldría menos de 1 vez de cada 1.000.")
    assert str(compared.details()).startswith("10.000 imágenes de test: A acierta y B falla en 120")


def test_a_difference_this_test_set_cannot_tell_apart_says_so():
    compared = statistics.paired(*answers([0] * 950 + [1] * 12 + [2] * 10 + [3] * 28))
    assert compared.test == "mcnemar-exact" and not compared.significant
    assert "is smaller than what this test set can tell apart" in str(compared.verdict())
    assert "about 1 time in" not in str(compared.verdict())  # p is 0.83: "easily"
    same = statistics.paired(*answers([0] * 90 + [3] * 10))
    assert str(same.verdict()) == ("A and B are right on exactly the same test images: there is no difference to "
                                   "measure.")


def test_a_p_under_5_percent_with_an_interval_that_holds_0_is_borderline_not_better():
    """The review's case (#33): 4 seeds against 4, the permutation test's smallest p (2 in 70) with Welch's interval
    from -3.0 to +9.8 points must not say "A is better"."""
    compared = statistics.groups([0.901, 0.91, 0.92, 0.99], [0.89, 0.895, 0.899, 0.90])
    assert compared.p_value == pytest.approx(2 / 70) and compared.interval[0] < 0 < compared.interval[1]
    assert compared.borderline and not compared.significant
    assert str(compared.verdict()) == (
        "The evidence is borderline: +3.4 points for A against B (-3.0 to +9.8); if the two settings were equally "
        "good, a gap between the groups this large would come up about 1 time in 35, yet the 95% interval of the "
        "difference still includes 0, no difference at all. The test and the interval disagree, so neither A nor B "
        "can be called better on these seeds alone.")
    i18n.set_language("es")
    assert str(compared.verdict()).startswith("La evidencia está en el límite: +3,4 puntos de A frente a B (de -3,0 a "
                                              "+9,8)")
    assert "el intervalo del 95\xa0% de la diferencia todavía incluye el 0" in str(compared.verdict())


def test_mcnemar_under_5_percent_with_a_bootstrap_interval_from_0_is_borderline():
    """McNemar's 44 against 26 of 1,000 images: p = 0.042, the interval (0.0, 0.034) starts at no difference."""
    compared = statistics.paired(*answers([0] * 900 + [1] * 44 + [2] * 26 + [3] * 30))
    assert compared.p_value == pytest.approx(0.0422, abs=1e-4) and compared.interval[0] <= 0 < compared.interval[1]
    assert compared.borderline and not compared.significant
    verdict = str(compared.verdict())
    assert verdict.startswith("The evidence is borderline: +1.8 points for A against B (")
    assert "is better" not in verdict
    assert verdict.endswith("The test and the interval disagree, so neither A nor B can be called better on this test "
                            "set alone.")


def test_an_interval_without_0_but_a_p_of_1_in_10_is_borderline_too():
    compared = statistics.groups([0.98, 0.979, 0.983], [0.975, 0.972, 0.977])
    assert compared.p_value == pytest.approx(0.1) and compared.interval[0] > 0
    assert compared.borderline and not compared.significant
    assert "is not rare enough for the test to call it real (that takes less than 1 time in 20), yet the 95% " \
           "interval of the difference leaves out 0" in str(compared.verdict())
    clear = statistics.paired(*answers([0] * 8000 + [1] * 120 + [2] * 240 + [3] * 1640))
    assert clear.significant and not clear.borderline


def test_runs_on_different_test_images_are_not_compared_and_the_reason_says_why(stored):
    run = stored(TrainConfig(**TINY))
    data = dict(run.record["data"], test_fingerprint="0" * 16, test=10_000, variant="full")
    other = dataclasses.replace(run, id="f" * 16, record=dict(run.record, data=data))
    compared = comparisons.paired(run, other)
    assert compared.test is None and compared.as_dict()["test"] is None
    assert str(compared.verdict()) == (
        "No test compares these runs: A was tested on 2,000 test images, sample and B on 10,000 test images, full "
        "dataset. A paired test needs the very same test images: train both on the same copy of the data.")
    assert compared.as_dict()["reason"] == str(compared.verdict())
    itself = comparisons.paired(run, run)
    assert itself.test == "mcnemar-exact" and itself.p_value == 1.0 and itself.n_test == 2000


def test_the_images_they_disagree_on_surest_first():
    y_test = np.array([0, 1, 2, 3])
    probabilities_a = np.eye(4)[[0, 1, 0, 0]] * 0.5 + np.diag([0.1, 0.3, 0, 0]) + 0.05
    probabilities_b = np.eye(4)[[1, 0, 2, 3]]
    a_only, b_only = comparisons.disagreements(probabilities_a, probabilities_b, y_test)
    assert list(a_only) == [1, 0] and list(b_only) == [2, 3]


def test_statistics_never_import_scipy():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(statistics))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names} | {node.module.split(".")[0] for node in ast.walk(tree)
                                            if isinstance(node, ast.ImportFrom) and node.module}
    assert "scipy" not in imported


def test_every_split_is_counted_once():
    assert statistics.splits(3, 3) == len(list(itertools.combinations(range(6), 3))) == 20
