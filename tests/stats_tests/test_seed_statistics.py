"""Seed statistics: Student-t intervals, paired deltas, and what the front shows of them."""

from __future__ import annotations

import math
import statistics

import optuna
import pytest
from scipy import stats

from nas_attn.search.results import ranked_rows
from nas_attn.search.studydb.attrs import SPACE_ATTR, seed_runs_key
from nas_attn.stats.seeds import mean_interval, paired_delta, t_quantile_975


@pytest.mark.parametrize(
    ("df", "table"), [(1, 12.7062), (2, 4.3027), (5, 2.5706), (30, 2.0423), (120, 1.9799)]
)
def test_t_quantile_is_the_tables_value(df: int, table: float) -> None:
    assert t_quantile_975(df) == pytest.approx(table, abs=1e-4)
    with pytest.raises(ValueError, match=">= 1"):
        t_quantile_975(0)


def test_mean_interval_is_student_t_and_none_for_one_value() -> None:
    values = [0.81, 0.83, 0.80, 0.84, 0.82]
    interval = mean_interval(values)
    half = stats.t.ppf(0.975, 4) * statistics.stdev(values) / math.sqrt(5)
    assert interval.mean == pytest.approx(0.82)
    assert interval.as_list == pytest.approx([0.82 - half, 0.82 + half], abs=1e-5)
    single = mean_interval([0.5])
    assert single.as_list is None and not single.excludes_zero() and single.overlaps(interval)


def test_a_paired_delta_uses_shared_seeds_only() -> None:
    placement = {0: 0.80, 1: 0.82, 2: 0.81, 9: 0.99}
    baseline = {0: 0.78, 1: 0.80, 2: 0.795, 3: 0.5}
    delta = paired_delta(placement, baseline)
    assert delta is not None and delta.seeds == [0, 1, 2]
    assert delta.interval.mean == pytest.approx((0.02 + 0.02 + 0.015) / 3)
    assert delta.excludes_zero  # consistent +1.5..2 points on every shared seed
    noisy = paired_delta({0: 0.80, 1: 0.78, 2: 0.83}, {0: 0.79, 1: 0.80, 2: 0.80})
    assert noisy is not None and not noisy.excludes_zero
    assert paired_delta({5: 0.8}, {6: 0.7}) is None


def study_with_seeds(runs: dict[str, list[float]]) -> tuple[optuna.Study, dict[str, int]]:
    """One trial per placement (layer1 module) trained at seed 0, re-run at seeds 1.. as reseed stores."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.set_user_attr("objectives", ["accuracy", "latency_ms"])
    study.set_user_attr(SPACE_ATTR, {"proxy": {"seed": 0, "train_seed": None}})
    numbers = {}
    for module, accuracies in runs.items():
        stages = {} if module == "none" else {"layer1": {"module": module}}
        trial = study.ask()
        trial.set_user_attr("arch", {"backbone": "resnet18", "stages": stages})
        latency = {"none": 1.0, "se": 1.2, "eca": 1.1}[module]
        study.tell(trial, [accuracies[0], latency])
        numbers[module] = trial.number
        if len(accuracies) > 1:
            study.set_user_attr(
                seed_runs_key(trial.number),
                {"seeds": list(range(1, len(accuracies))), "values": [[a, latency] for a in accuracies[1:]]},
            )
    return study, numbers


def test_ranked_rows_carry_seeds_intervals_and_paired_deltas() -> None:
    study, numbers = study_with_seeds(
        {
            "none": [0.780, 0.775, 0.790, 0.785],
            "se": [0.800, 0.797, 0.811, 0.806],  # +2 points at every seed: a win
            "eca": [0.790, 0.770, 0.785],  # inside the noise
        }
    )
    rows = {r.number: r for r in ranked_rows(study)}
    plain, se, eca = (rows[numbers[m]] for m in ("none", "se", "eca"))
    assert plain.delta_vs_baseline is None and not plain.significant
    assert plain.accuracy_ci95 is not None and plain.seed_list == [0, 1, 2, 3]
    assert se.delta_vs_baseline is not None and se.delta_vs_baseline.seeds == [0, 1, 2, 3]
    assert se.delta_vs_baseline.interval.mean == pytest.approx(0.021)
    # no racing history: the extra seeds were fixed in advance, so every confirmation seed counts
    assert se.significant and se.beats_baseline and se.claim_delta == pytest.approx(0.0213, abs=1e-4)
    assert se.p_value is not None and se.p_adjusted is not None and se.p_adjusted >= se.p_value
    assert eca.delta_vs_baseline is not None and eca.delta_vs_baseline.seeds == [0, 1, 2]
    assert not eca.significant and eca.p_value is not None and eca.p_value > 0.05
    assert plain.p_value is None and plain.p_adjusted is None
    assert se.values["accuracy"] == pytest.approx(statistics.fmean([0.800, 0.797, 0.811, 0.806]))


def test_one_seed_gives_a_delta_without_an_interval() -> None:
    study, numbers = study_with_seeds({"none": [0.78], "se": [0.80]})
    se = next(r for r in ranked_rows(study) if r.number == numbers["se"])
    assert se.accuracy_ci95 is None and se.delta_vs_baseline is not None
    assert se.delta_vs_baseline.interval.as_list is None and not se.significant
    assert se.p_value is None and se.p_adjusted is None  # the selecting seed alone: no test applies
    assert se.delta_vs_baseline.to_dict() == {"mean": pytest.approx(0.02), "ci95": None, "seeds": [0]}


def test_the_front_says_in_words_how_many_were_compared_and_what_it_claims(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from nas_attn.cli.tables import print_rows
    from nas_attn.search.results import claims_of

    study, numbers = study_with_seeds({"none": [0.78, 0.79], "eca": [0.785, 0.78]})
    claims = claims_of(study)
    assert claims.describe() == (
        "compared 1 placement(s) with the plain backbone, Holm-corrected at 5% on seeds drawn after "
        "selection: none beats it or trails it; differences inside the noise are not wins"
    )
    print_rows(ranked_rows(study), "json", "t", None, claims=claims)
    document = json.loads(capsys.readouterr().out)
    assert document["claims"] == {"method": "holm", "alpha": 0.05, "compared": 1, "significant": []}
    records = {r["trial"]: r for r in document["trials"]}
    eca = records[numbers["eca"]]
    assert eca["seeds"] == 2 and len(eca["accuracy_ci95"]) == 2
    assert eca["delta_vs_baseline"]["seeds"] == [0, 1] and eca["significant"] is False
    assert eca["p_adjusted"] >= eca["p_value"] > 0.05
    assert records[numbers["none"]]["delta_vs_baseline"] is None
    assert records[numbers["none"]]["p_value"] is None and records[numbers["none"]]["p_adjusted"] is None
    win, win_numbers = study_with_seeds(
        {"none": [0.78, 0.775, 0.79, 0.785], "se": [0.80, 0.796, 0.811, 0.806], "eca": [0.79, 0.77, 0.785]}
    )
    text = claims_of(win).describe()
    assert text is not None and text.startswith(
        "compared 2 placement(s) with the plain backbone, Holm-corrected at 5% on seeds drawn after "
        f"selection: trial {win_numbers['se']} (+2.10 points, p_adj "
    )
    assert text.endswith("beat(s) it")
    one_seed, _ = study_with_seeds({"none": [0.78], "se": [0.80]})
    assert claims_of(one_seed).describe() is not None and "no claims" in str(claims_of(one_seed).describe())


def test_compute_counts_the_search_and_every_extra_seed() -> None:
    from nas_attn.search.results import compute_spent

    study, numbers = study_with_seeds({"none": [0.78, 0.775, 0.79], "se": [0.80, 0.796], "eca": [0.79]})
    spent = compute_spent(study)
    assert (spent.placements, spent.seed_runs) == (3, 3)  # 2 re-runs of none, 1 of se
    assert spent.placement_epochs == spent.seed_run_epochs == 0  # no epochs recorded anywhere here
    key = seed_runs_key(numbers["se"])
    study.set_user_attr(key, {**study.user_attrs[key], "epochs": [4]})
    assert compute_spent(study).seed_run_epochs == 4
    assert "3 extra seed run(s)" in compute_spent(study).describe()


def test_the_report_marks_placements_that_beat_the_plain_backbone() -> None:
    from nas_attn.report import render_report
    from nas_attn.report.plots import pareto_figure
    from nas_attn.search.results import objective_names

    study, numbers = study_with_seeds(
        {"none": [0.78, 0.775, 0.79, 0.785], "se": [0.80, 0.796, 0.811, 0.806], "eca": [0.79, 0.77, 0.785]}
    )
    fig = pareto_figure(ranked_rows(study), objective_names(study), None)
    marks = {
        str(line.get_gid()) for line in fig.axes[0].lines if str(line.get_gid()).startswith("beats-baseline")
    }
    assert marks == {f"beats-baseline-trial-{numbers['se']}"}  # eca is inside the noise: no mark
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "beats plain (Holm, 5%)" in legend
    page = render_report(study, "memory")
    assert "compared 2 placement(s) with the plain backbone, Holm-corrected at 5%" in page
    assert f"trial {numbers['se']} (+2.10 points" in page
    assert "Compute: 3 placement(s) trained" in page and "vs plain: +0.0208" in page


def test_equal_values_give_no_interval_and_no_significance() -> None:
    # Accuracies are multiples of 1/n_val: two seeds can differ from the plain backbone by exactly
    # the same amount. A zero sample spread must not make a zero-width "significant" interval.
    same = mean_interval([0.6835, 0.6835])
    assert same.as_list is None and same.n == 2 and not same.excludes_zero()
    delta = paired_delta({0: 0.700, 1: 0.690}, {0: 0.7165, 1: 0.7065})  # -0.0165 at both seeds
    assert delta is not None and delta.interval.mean == pytest.approx(-0.0165)
    assert delta.interval.as_list is None and not delta.excludes_zero


def test_export_provenance_carries_the_test_and_the_studys_claims() -> None:
    from nas_attn.deploy.select import export_arch

    study, numbers = study_with_seeds(
        {"none": [0.78, 0.775, 0.79, 0.785], "se": [0.80, 0.796, 0.811, 0.806], "eca": [0.79, 0.77, 0.785]}
    )
    provenance = export_arch(study, study.trials[numbers["se"]], "memory").provenance
    assert provenance is not None
    assert provenance["significant"] is True and provenance["p_adjusted"] >= provenance["p_value"]
    claims = provenance["claims"]
    assert {k: claims[k] for k in ("method", "alpha", "compared", "significant")} == {
        "method": "holm",
        "alpha": 0.05,
        "compared": 2,
        "significant": [numbers["se"]],
    }
    assert claims["summary"].startswith(
        "compared 2 placement(s) with the plain backbone, Holm-corrected at 5%"
    )
