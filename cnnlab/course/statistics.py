"""Is the difference real? Paired tests on two runs' test images and tests on groups of seeds, said in plain words.

One run is one draw: another seed moves MNIST's accuracy by tenths of a point. Two runs scored on the very same test
images are compared image by image (McNemar's test on the images one gets right and the other wrong, and a paired
bootstrap interval for the difference in accuracy); two groups of runs that differ only in their seed are compared by
the spread between seeds (Welch's t-test, or an exact permutation test when there are few seeds).
NumPy and math only: the distributions are written out here (SciPy checks them in the tests).
"""

import dataclasses
import itertools
import math

import numpy as np

from cnnlab.i18n import Message

RESAMPLES = 2_000  # bootstrap resamples of the test images
EXACT_BELOW = 25  # McNemar's test is the exact binomial under this many discordant images, else the chi-square
LEVEL = 0.95  # of every interval
SIGNIFICANT = 0.05  # a p-value under this, with an interval that leaves out 0, is "a real difference"
MAX_SPLITS = 10_000  # a permutation test enumerates every split of the seeds up to this many
FEW_SEEDS = 5  # a group with fewer seeds than this gets the note that it is little evidence


@dataclasses.dataclass(frozen=True)
class Comparison:
    """A against B: the numbers and the test that was made (test None: none could be, and reason says why)."""

    test: str | None  # "mcnemar-exact", "mcnemar", "welch", "permutation" or None
    difference: float | None = None  # A's accuracy minus B's (a fraction; of the means for groups)
    interval: tuple | None = None  # (low, high) of the difference, at LEVEL
    p_value: float | None = None
    n_test: int | None = None  # test images (paired runs)
    a_right_b_wrong: int | None = None
    a_wrong_b_right: int | None = None
    a_values: tuple = ()  # each seed's test accuracy (groups)
    b_values: tuple = ()
    reason: Message | None = None

    @property
    def rare_by_chance(self):
        """The test alone calls the difference real: p under SIGNIFICANT."""
        return self.p_value is not None and self.p_value < SIGNIFICANT

    @property
    def interval_excludes_zero(self):
        """The interval alone calls the difference real: all of it on one side of 0 (a bound at 0 includes it)."""
        return self.interval is not None and (self.interval[0] > 0 or self.interval[1] < 0)

    @property
    def significant(self):
        """A real difference: the test and the interval both say so."""
        return self.rare_by_chance and self.interval_excludes_zero

    @property
    def borderline(self):
        """The test and the interval disagree (one calls the difference real, the other not): borderline evidence."""
        return self.test is not None and self.rare_by_chance != self.interval_excludes_zero

    def verdict(self, a="A", b="B"):
        """The answer in plain words (a Message, worded when shown): who is better by how much, and how often chance
        alone would give a difference like it; or why no test was made."""
        if self.test is None:
            return self.reason
        if self.n_test is not None and self.a_right_b_wrong + self.a_wrong_b_right == 0:
            return Message("stats.verdict.same", a=a, b=b)
        low, high = self.interval
        better, sign = (a, 1) if self.difference > 0 else (b, -1)
        low, high = sorted((sign * low * 100, sign * high * 100))
        how = Message("stats.chance.split" if self.n_test is not None else "stats.chance.gap", chance=chance(
            self.p_value))
        if self.significant:
            return Message("stats.verdict.better", better=better, points=abs(self.difference) * 100, low=low,
                           high=high, chance=how)
        what = Message("stats.what.test_set" if self.n_test is not None else "stats.what.seeds")
        if self.borderline:
            why = Message("stats.borderline.interval_has_zero" if self.rare_by_chance
                          else "stats.borderline.chance_not_rare", level=LEVEL)
            return Message("stats.verdict.borderline", a=a, b=b, points=self.difference * 100,
                           low=self.interval[0] * 100, high=self.interval[1] * 100, chance=how, why=why, what=what)
        return Message("stats.verdict.unclear", a=a, b=b, points=self.difference * 100, low=self.interval[0] * 100,
                       high=self.interval[1] * 100, chance=how, what=what)

    def notes(self):
        """[Message] what to keep in mind besides the verdict (few seeds are little evidence)."""
        seeds = [len(values) for values in (self.a_values, self.b_values) if values]
        found = []
        if seeds and min(seeds) < FEW_SEEDS:
            found.append(Message("stats.few_seeds", count=min(seeds), more=FEW_SEEDS))
        if self.test == "permutation" and 2 / splits(*seeds) >= SIGNIFICANT:  # the rarest split is still common
            found.append(Message("stats.smallest_p", p=2 / splits(*seeds)))
        return found

    def details(self):
        """The numbers behind the verdict in one sentence: the counts and the test (paired), or the test (groups)."""
        if self.test is None:
            return None
        test = Message(TESTS[self.test])
        p = Message("stats.p_below", p=0.0001) if self.p_value < 0.0001 else Message("stats.p_equals", p=self.p_value)
        if self.n_test is None:
            return Message("stats.group_test", test=test, p=p)
        return Message("stats.counts", n_test=self.n_test, a_right_b_wrong=self.a_right_b_wrong,
                       a_wrong_b_right=self.a_wrong_b_right, test=test, p=p)

    def as_dict(self):
        """The JSON of `python -m cnnlab compare`: the numbers, the test, and the reason worded when there is none."""
        return {"test": self.test, "n_test": self.n_test, "a_right_b_wrong": self.a_right_b_wrong,
                "a_wrong_b_right": self.a_wrong_b_right, "difference": self.difference,
                "interval": list(self.interval) if self.interval else None, "p_value": self.p_value,
                "a_values": list(self.a_values), "b_values": list(self.b_values),
                "reason": None if self.reason is None else str(self.reason)}


TESTS = {"mcnemar-exact": "stats.test.mcnemar_exact", "mcnemar": "stats.test.mcnemar", "welch": "stats.test.welch",
         "permutation": "stats.test.permutation"}  # each test's name in words


def chance(p_value):
    """How often chance alone gives a result at least this uneven, in words: 'less than 1 time in 1,000'."""
    if p_value < 0.001:
        return Message("stats.chance.rare", times=1000)
    if p_value < 0.5:
        return Message("stats.chance.one_in", times=round(1 / p_value))
    return Message("stats.chance.often", share=p_value)


# ---------------------------------------------------------------- distributions (math only)

def binomial_cdf(k, n, p=0.5):
    """P(X <= k) for X ~ Binomial(n, p), summed exactly term by term (n is small where it is used)."""
    return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(0, int(k) + 1))


def chi2_survival_1(statistic):
    """P(X >= statistic) for a chi-square with one degree of freedom: that of |Z| >= sqrt(statistic)."""
    return math.erfc(math.sqrt(max(statistic, 0.0) / 2))


def _beta_fraction(a, b, x, steps=300, tiny=1e-300):
    """The continued fraction of the incomplete beta function (Lentz's method, as in Numerical Recipes)."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, steps + 1):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return result


def incomplete_beta(a, b, x):
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def t_two_sided(statistic, df):
    """P(|T| >= |statistic|) for Student's t with df degrees of freedom."""
    if math.isinf(statistic):
        return 0.0
    return incomplete_beta(df / 2.0, 0.5, df / (df + statistic * statistic))


def t_quantile(probability, df):
    """The t value below which probability of the distribution lies (probability > 0.5), by bisection."""
    low, high = 0.0, 1e4
    for _ in range(200):
        middle = (low + high) / 2
        if 1 - t_two_sided(middle, df) / 2 < probability:
            low = middle
        else:
            high = middle
    return (low + high) / 2


# ---------------------------------------------------------------- two runs on the same test images

def mcnemar(a_right_b_wrong, a_wrong_b_right):
    """(test, p-value) of McNemar's test on the discordant images: the exact two-sided binomial test of a 50/50
    split under EXACT_BELOW of them, else the chi-square with the continuity correction."""
    b, c = int(a_right_b_wrong), int(a_wrong_b_right)
    n = b + c
    if n < EXACT_BELOW:
        return "mcnemar-exact", min(1.0, 2 * binomial_cdf(min(b, c), n)) if n else 1.0
    return "mcnemar", chi2_survival_1(max(abs(b - c) - 1, 0) ** 2 / n)


def bootstrap_interval(a_right_b_wrong, a_wrong_b_right, n_test, resamples=RESAMPLES, seed=0):
    """The LEVEL percentile interval of A's accuracy minus B's over resamples of the test images (paired).

    A resample draws n_test images with replacement; for the difference only the number it draws of each kind counts
    (A right B wrong: +1, A wrong B right: -1, the rest: 0), so each resample is one multinomial draw of those three
    counts: the same distribution as drawing image indices, in O(resamples) instead of O(resamples x n_test)."""
    rng = np.random.default_rng(seed)
    shares = np.array([a_right_b_wrong, a_wrong_b_right, n_test - a_right_b_wrong - a_wrong_b_right]) / n_test
    counts = rng.multinomial(n_test, shares, size=resamples)  # (resamples, 3)
    differences = (counts[:, 0] - counts[:, 1]) / n_test
    tail = (1 - LEVEL) / 2
    low, high = np.quantile(differences, [tail, 1 - tail])
    return float(low), float(high)


def paired(predicted_a, predicted_b, y_test, resamples=RESAMPLES, seed=0):
    """A Comparison of two networks' answers ((n_test,) class indices) on the same test images y_test."""
    y_test = np.asarray(y_test)
    right_a, right_b = np.asarray(predicted_a) == y_test, np.asarray(predicted_b) == y_test
    n_test = int(y_test.size)
    if n_test == 0:
        return Comparison(None, reason=Message("stats.reason.empty"))
    b = int(np.count_nonzero(right_a & ~right_b))
    c = int(np.count_nonzero(~right_a & right_b))
    test, p_value = mcnemar(b, c)
    return Comparison(test, difference=(b - c) / n_test, interval=bootstrap_interval(b, c, n_test, resamples, seed),
                      p_value=float(p_value), n_test=n_test, a_right_b_wrong=b, a_wrong_b_right=c)


# ---------------------------------------------------------------- two groups of seeds

def welch(values_a, values_b):
    """(t, degrees of freedom, two-sided p) of Welch's t-test (unequal variances)."""
    a, b = np.asarray(values_a, float), np.asarray(values_b, float)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    difference = a.mean() - b.mean()
    if va + vb == 0:
        return (0.0 if difference == 0 else math.copysign(math.inf, difference)), float(a.size + b.size - 2), (
            1.0 if difference == 0 else 0.0)
    statistic = difference / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    return float(statistic), float(df), t_two_sided(statistic, df)


def welch_interval(values_a, values_b):
    """The LEVEL interval of mean(A) minus mean(B) with Welch's degrees of freedom."""
    a, b = np.asarray(values_a, float), np.asarray(values_b, float)
    difference = float(a.mean() - b.mean())
    spread = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    if spread == 0:
        return difference, difference
    _, df, _ = welch(a, b)
    half = t_quantile(1 - (1 - LEVEL) / 2, df) * spread
    return difference - half, difference + half


def splits(size_a, size_b):
    """How many ways the pooled seeds split into groups of these sizes."""
    return math.comb(size_a + size_b, size_a)


def permutation(values_a, values_b):
    """The exact two-sided p of a permutation test of the difference of means: every split of the pooled values
    into groups of the same sizes, twice the smaller tail (as scipy.stats.permutation_test counts it)."""
    a, b = np.asarray(values_a, float), np.asarray(values_b, float)
    pooled = np.concatenate([a, b])
    chosen = np.array(list(itertools.combinations(range(pooled.size), a.size)))  # (splits, size of A)
    in_a = np.zeros((len(chosen), pooled.size), bool)
    in_a[np.arange(len(chosen))[:, None], chosen] = True
    sums_a = in_a @ pooled
    null = sums_a / a.size - (pooled.sum() - sums_a) / b.size
    observed = a.mean() - b.mean()
    tolerance = abs(observed) * 1e-12 + 1e-14
    greater = np.count_nonzero(null >= observed - tolerance) / null.size
    less = np.count_nonzero(null <= observed + tolerance) / null.size
    return float(min(1.0, 2 * min(greater, less)))


def groups(values_a, values_b):
    """A Comparison of two groups of seeds' test accuracies: an exact permutation test when every split of the seeds
    can be counted (at most MAX_SPLITS), else Welch's t-test; the interval is Welch's."""
    values_a, values_b = tuple(float(v) for v in values_a), tuple(float(v) for v in values_b)
    if min(len(values_a), len(values_b)) < 2:
        return Comparison(None, a_values=values_a, b_values=values_b, reason=Message(
            "stats.reason.one_seed", a_seeds=len(values_a), b_seeds=len(values_b)))
    if splits(len(values_a), len(values_b)) <= MAX_SPLITS:
        test, p_value = "permutation", permutation(values_a, values_b)
    else:
        test, p_value = "welch", welch(values_a, values_b)[2]
    return Comparison(test, difference=float(np.mean(values_a) - np.mean(values_b)),
                      interval=welch_interval(values_a, values_b), p_value=float(p_value), a_values=values_a,
                      b_values=values_b)


def spread(values):
    """(mean, sample standard deviation) of the seeds' values (deviation 0 for one seed)."""
    values = np.asarray(values, float)
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0
