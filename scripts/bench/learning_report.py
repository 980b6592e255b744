"""Figures and the markdown section of the learning benchmark, generated from the committed results.

Nothing here is typed by hand: every number and curve comes from the per-checkpoint eval summaries
and training timelines that `bench.learning` writes, so rerunning the report after more runs
finish updates the document. The section replaces the text between LEARNING_BEGIN and LEARNING_END
in docs/benchmarks.md (appended if the markers are missing).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lerobot_hetero_act.sim.task_spec import get_task

from .doc_sections import splice_section
from .learning import LearningProtocol, TrainTimeline
from .stats import difference_interval, paired_difference_interval, stage_rates, wilson_interval

LEARNING_BEGIN = "<!-- learning-benchmark:begin -->"
LEARNING_END = "<!-- learning-benchmark:end -->"
TARGET_SUCCESS = 0.90
TARGET_MINUTES = 90
TARGET_MARGIN = 0.10
TARGET_MEAN_SUCCESS = 0.60
TARGET_SEED_SPREAD = 0.20
VERDICT_SEEDS = 5
EARLIER_MACHINE = "CPU only, 2 CPU cores"
"""The machine of summaries written before they named theirs: every run until then trained and was
evaluated on the project's 2-core CPU machines (the first lent GPU ran only a probe)."""


@dataclass
class EvalPoint:
    step: int
    samples: int
    wall_min: float | None
    """Training minutes to this checkpoint: step x the model's measured s/step on a quiet machine
    (results/step_time.json) when available, else the run's own logged clock."""
    logged_min: float | None
    n: int
    k: int
    stages: dict[str, float]
    mean_return: float
    view_gate: dict[str, float] = field(default_factory=dict)
    """Camera -> mean view-gate weight over the logged eval episodes (empty without view gating)."""
    view_gate_episodes: int = 0
    machine: str = EARLIER_MACHINE

    @property
    def rate(self) -> float:
        return self.k / self.n

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.k, self.n)


@dataclass
class RunResult:
    model: str
    seed: int
    command: str
    points: list[EvalPoint] = field(default_factory=list)
    loss: list[tuple[int, float]] = field(default_factory=list)
    eval_command: str = ""
    heldout_l1: dict[int, float] = field(default_factory=dict)
    """Episode -> held-out L1 of the final checkpoint (empty until measured)."""


def load_runs(protocol: LearningProtocol, results: Path) -> list[RunResult]:
    """Every run of the protocol that has results, ordered as the protocol lists its models."""
    stages = get_task(protocol.task).reward_stages
    step_time_path = results / "step_time.json"
    s_per_step = json.loads(step_time_path.read_text())["s_per_step"] if step_time_path.is_file() else {}
    runs = []
    for model in protocol.models:
        for seed_dir in sorted(results.glob(f"{model}_seed*")):
            seed_text = seed_dir.name.removeprefix(f"{model}_seed")
            if not seed_text.isdigit():
                continue  # another model whose name starts with this one's
            timeline = TrainTimeline.load(seed_dir / "training.json")
            command = (
                (seed_dir / "command.txt").read_text().strip() if (seed_dir / "command.txt").is_file() else ""
            )
            run = RunResult(model, int(seed_text), command, loss=[(int(r[0]), r[1]) for r in timeline.log])
            for path in sorted(seed_dir.glob("eval_step*.json")):
                s = json.loads(path.read_text())
                logged = timeline.wall_s.get(s["step"])
                logged_min = None if logged is None else logged / 60
                clean_min = s["step"] * s_per_step[model] / 60 if model in s_per_step else None
                run.points.append(
                    EvalPoint(
                        step=s["step"],
                        samples=s["samples"],
                        wall_min=clean_min if clean_min is not None else logged_min,
                        logged_min=logged_min,
                        n=s["n_episodes"],
                        k=s["n_success"],
                        stages=stage_rates(s["max_rewards"], stages),
                        mean_return=statistics.fmean(s["sum_rewards"]),
                        view_gate=s.get("view_gate_mean", {}),
                        view_gate_episodes=s.get("view_gate_episodes", 0),
                        machine=s.get("machine", EARLIER_MACHINE),
                    )
                )
                run.eval_command = s["command"]
            for path in sorted(seed_dir.glob("heldout_l1_step*.json")):
                run.heldout_l1 = {
                    int(e): v for e, v in json.loads(path.read_text())["l1_per_episode"].items()
                }
            runs.append(run)
    return runs


def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def ci(point: EvalPoint) -> str:
    lo, hi = point.interval
    return f"{pct(point.rate)} ({point.k}/{point.n}; {pct(lo)}–{pct(hi)})"


def plot_curves(protocol: LearningProtocol, runs: list[RunResult], figures: Path) -> list[Path]:
    """Success vs steps and vs wall-clock (with Wilson bars), reward stages vs steps, training loss."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures.mkdir(parents=True, exist_ok=True)
    written = []
    colors = {m: f"C{i}" for i, m in enumerate(protocol.models)}
    markers = ["o", "s", "^", "D"]

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for run in runs:
        if not run.points:
            continue
        seed_ix = protocol.train_seeds.index(run.seed) if run.seed in protocol.train_seeds else 0
        style = {"color": colors[run.model], "marker": markers[seed_ix % len(markers)], "capsize": 3}
        label = f"{run.model} (seed {run.seed})"
        rates = [p.rate * 100 for p in run.points]
        err = [
            [100 * (p.rate - p.interval[0]) for p in run.points],
            [100 * (p.interval[1] - p.rate) for p in run.points],
        ]
        axes[0].errorbar([p.step for p in run.points], rates, yerr=err, label=label, **style)
        timed = [(p, r, lo, hi) for p, r, lo, hi in zip(run.points, rates, *err, strict=True) if p.wall_min]
        if timed:
            axes[1].errorbar(
                [p.wall_min for p, *_ in timed],
                [r for _, r, _, _ in timed],
                yerr=[[lo for *_, lo, _ in timed], [hi for *_, hi in timed]],
                label=label,
                **style,
            )
    axes[0].set(xlabel=f"training step (batch {protocol.batch_size})", ylabel="success rate (%)")
    axes[1].set(xlabel="training wall-clock (min)")
    axes[1].axhline(TARGET_SUCCESS * 100, color="grey", ls="--", lw=1)
    axes[1].axvline(TARGET_MINUTES, color="grey", ls=":", lw=1)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.set_ylim(-3, 103)
        ax.set_xlim(left=0)
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"{protocol.task}: closed-loop success in aloha_multicam (95% Wilson intervals)")
    fig.tight_layout()
    path = figures / f"{protocol.name}_success.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    stage_names = get_task(protocol.task).reward_stages
    with_points = [r for r in runs if r.points]
    if with_points:
        fig, axes = plt.subplots(1, len(with_points), figsize=(3.3 * len(with_points), 3.2), sharey=True)
        axes = axes if len(with_points) > 1 else [axes]
        for ax, run in zip(axes, with_points, strict=True):
            for i, stage in enumerate(stage_names):
                ax.plot(
                    [p.step for p in run.points],
                    [100 * p.stages[stage] for p in run.points],
                    marker="o",
                    color=f"C{i}",
                    label=stage,
                )
            ax.set(title=f"{run.model}\nseed {run.seed}", xlabel="step")
            ax.title.set_fontsize(8)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("episodes reaching stage (%)")
        axes[0].legend(fontsize=7)
        fig.tight_layout()
        path = figures / f"{protocol.name}_stages.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for run in runs:
        if run.loss:
            ax.plot(
                [s for s, _ in run.loss],
                [v for _, v in run.loss],
                color=colors[run.model],
                lw=0.8,
                label=f"{run.model} (seed {run.seed})",
            )
    ax.set(xlabel="training step", ylabel="training loss (L1 + KL term)", yscale="log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = figures / f"{protocol.name}_loss.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def final_point(run: RunResult, protocol: LearningProtocol) -> EvalPoint | None:
    finals = [p for p in run.points if p.step >= protocol.steps and p.n >= protocol.final_eval_episodes]
    return finals[-1] if finals else None


def final_pairs(
    protocol: LearningProtocol, runs: list[RunResult], model: str, reference: str
) -> list[tuple[RunResult, EvalPoint, RunResult, EvalPoint]]:
    """(run, its final point, reference run, its final point) for every seed both have finished."""
    finals = {(r.model, r.seed): (r, p) for r in runs if (p := final_point(r, protocol))}
    return [
        (*finals[(model, seed)], *finals[(reference, seed)])
        for name, seed in finals
        if name == model and (reference, seed) in finals
    ]


@dataclass
class RunScore:
    """A run's score: the mean success rate over the protocol's scored checkpoints."""

    seed: int
    points: list[EvalPoint]

    @property
    def value(self) -> float:
        return statistics.fmean(p.rate for p in self.points)

    def describe(self) -> str:
        """ "60% (30/50 at 4000, 30/50 at 5000)", with the machine when it was not the usual CPU."""
        parts = ", ".join(f"{p.k}/{p.n} at {p.step}" for p in self.points)
        machines = sorted({p.machine for p in self.points} - {EARLIER_MACHINE})
        return f"{pct(self.value)} ({'; '.join([parts, *machines])})"


def run_score(run: RunResult, protocol: LearningProtocol) -> RunScore | None:
    """The run's score once every scored checkpoint is evaluated (the last with its full episode count)."""
    by_step = {p.step: p for p in run.points}
    if final_point(run, protocol) is None or any(s not in by_step for s in protocol.score_steps):
        return None
    return RunScore(run.seed, [by_step[s] for s in protocol.score_steps])


def model_scores(protocol: LearningProtocol, runs: list[RunResult], model: str) -> dict[int, RunScore]:
    """Training seed -> score of each scored run of `model`."""
    return {r.seed: score for r in runs if r.model == model and (score := run_score(r, protocol))}


@dataclass
class SeedComparison:
    """Two models' scores over training seeds: means, spreads and the difference of means.

    The interval is Welch's t-interval (scipy.stats.ttest_ind, equal_var=False) over the per-seed
    scores: the training seed is the unit, since it moves a model more than eval noise does.
    """

    scores: dict[int, RunScore]
    reference: dict[int, RunScore]

    @staticmethod
    def spread(scores: dict[int, RunScore]) -> float:
        values = [s.value for s in scores.values()]
        return max(values) - min(values)

    @property
    def difference(self) -> float:
        return statistics.fmean(s.value for s in self.scores.values()) - statistics.fmean(
            s.value for s in self.reference.values()
        )

    @property
    def interval(self) -> tuple[float, float] | None:
        if len(self.scores) < 2 or len(self.reference) < 2:
            return None
        from scipy.stats import ttest_ind

        result = ttest_ind(
            [s.value for s in self.scores.values()],
            [s.value for s in self.reference.values()],
            equal_var=False,
        )
        ci = result.confidence_interval(0.95)
        return float(ci.low), float(ci.high)


def summary_cell(scores: dict[int, RunScore]) -> str:
    values = [s.value for s in scores.values()]
    if not values:
        return "–"
    sd = f", sd {100 * statistics.stdev(values):.0f}" if len(values) > 1 else ""
    return f"mean {pct(statistics.fmean(values))}{sd}, range {pct(min(values))}–{pct(max(values))}"


def scored_models(protocol: LearningProtocol) -> list[str]:
    """The models compared across seeds: the default, the baseline and every recipe's variants."""
    names = [protocol.default_model, protocol.baseline_model]
    for recipe in protocol.recipes.values():
        for base, variant in recipe["models"].items():
            names += [base, variant]
    return list(dict.fromkeys(names))


def mean_interval(values: list[float]) -> tuple[float, float] | None:
    """95% t-interval of the mean of per-seed scores (None below two seeds)."""
    if len(values) < 2:
        return None
    from scipy import stats

    low, high = stats.t.interval(0.95, len(values) - 1, loc=statistics.fmean(values), scale=stats.sem(values))
    return float(low), float(high)


LABEL_GAP_POINTS = 4.0  # least vertical distance between seed labels, in score percentage points


def plot_seed_scores(protocol: LearningProtocol, runs: list[RunResult], figures: Path) -> Path | None:
    """One dot per training seed and model (its score), with each model's mean and the 95%
    t-interval of that mean: the across-seed verdict at a glance. None until a run is scored."""
    per_model = {m: model_scores(protocol, runs, m) for m in scored_models(protocol)}
    per_model = {m: scores for m, scores in per_model.items() if scores}
    if not per_model:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(per_model), 3.8))
    for x, scores in enumerate(per_model.values()):
        by_value = sorted((100 * score.value, seed) for seed, score in scores.items())
        values = [value for value, _ in by_value]
        ax.scatter([x] * len(values), values, color=f"C{x}", zorder=3)
        label_y = -float("inf")
        for value, seed in by_value:  # labels stacked upwards so that close scores stay readable
            label_y = max(value, label_y + LABEL_GAP_POINTS)
            ax.annotate(str(seed), (x, value), xytext=(x + 0.28, label_y), fontsize=7, va="center")
        mean = statistics.fmean(values)
        ax.hlines(mean, x - 0.25, x + 0.25, color="black", lw=2, zorder=2)
        if interval := mean_interval(values):
            low, high = max(interval[0], 0.0), min(interval[1], 100.0)  # a score lies in 0-100%
            ax.vlines(x - 0.3, low, high, color="black", lw=1)
            ax.hlines([low, high], x - 0.34, x - 0.26, color="black", lw=1)
    ax.set_xticks(range(len(per_model)), [f"{m}\n({len(s)} seeds)" for m, s in per_model.items()], fontsize=7)
    steps = " and ".join(str(s) for s in protocol.score_steps)
    ax.set(
        ylabel=f"score: mean success at steps {steps} (%)", ylim=(-5, 105), xlim=(-0.6, len(per_model) - 0.4)
    )
    ax.grid(alpha=0.3, axis="y")
    ax.set_title(
        "dot = one training seed; bar = mean; line = its 95% t-interval (cut at 0 and 100)", fontsize=8
    )
    fig.tight_layout()
    figures.mkdir(parents=True, exist_ok=True)
    path = figures / f"{protocol.name}_seeds.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def seed_rows(protocol: LearningProtocol, runs: list[RunResult], figure: str | None = None) -> list[str]:
    """Per-seed scores of the default and baseline models, their means and spreads, and the
    difference of means with its interval."""
    mine = model_scores(protocol, runs, protocol.default_model)
    theirs = model_scores(protocol, runs, protocol.baseline_model)
    if not mine and not theirs:
        return []
    steps = " and ".join(str(s) for s in protocol.score_steps)
    rows = [
        "### Across training seeds",
        "",
        f"A run's score is its mean success over the checkpoints at steps {steps} "
        f"({protocol.final_eval_episodes} episodes each where the checkpoint was kept for it; the "
        "episode counts are listed), so one lucky checkpoint does not decide.",
        "",
        *([f"![{protocol.name}_seeds]({figure})", ""] if figure else []),
        f"| training seed | {protocol.default_model} | {protocol.baseline_model} |",
        "| --- | --- | --- |",
    ]
    for seed in sorted(set(mine) | set(theirs)):
        cells = [m[seed].describe() if seed in m else "–" for m in (mine, theirs)]
        rows.append(f"| {seed} | {cells[0]} | {cells[1]} |")
    rows.append(f"| all seeds | {summary_cell(mine)} | {summary_cell(theirs)} |")
    rows.append("")
    if mine and theirs:
        cmp = SeedComparison(mine, theirs)
        interval = cmp.interval
        ci_text = (
            f"95% Welch t-interval over seeds {100 * interval[0]:+.0f} to {100 * interval[1]:+.0f} points"
            if interval
            else "no interval yet (needs two seeds of each)"
        )
        rows += [
            f"Difference of means ({protocol.default_model} − {protocol.baseline_model}): "
            f"{100 * cmp.difference:+.0f} points, {ci_text}; {len(mine)} and {len(theirs)} seeds.",
            "",
        ]
    return rows


def recipe_verdict(gains: dict[str, float], missing: dict[str, list[int]]) -> tuple[str, bool]:
    """(verdict, dropped). A recipe wins only once every base model's screening seeds are finished and
    each mean gain is positive; it is dropped as soon as one model's finished seeds show no gain, since
    more seeds of the other models cannot change that."""
    losers = [model for model, gain in gains.items() if gain <= 0]
    if losers:
        return f"does not win (no gain for {', '.join(losers)} over its screening seeds)", True
    pending = {model: seeds for model, seeds in missing.items() if seeds}
    if pending:
        waiting = "; ".join(f"{m} seed {', '.join(map(str, s))}" for m, s in pending.items())
        return f"open (waiting for {waiting})", False
    return "wins for every model", False


def screening_rows(protocol: LearningProtocol, runs: list[RunResult], results_root: Path) -> list[str]:
    """Each recipe against its base model on the same training seeds (scores as above)."""
    if not protocol.recipes:
        return []
    rows = [
        "### Recipe screening",
        "",
        "Each recipe model is its base model with the recipe's levers, trained on the same seeds; a "
        "recipe wins if it raises the mean score of every base model over the screening seeds "
        f"({' and '.join(map(str, protocol.train_seeds[:2]))}), and is dropped as soon as one model has "
        "finished both screening seeds without a gain in its mean score.",
        "",
        "| recipe | model | training seed | base score | with recipe | difference |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    verdicts = []
    for name, recipe in protocol.recipes.items():
        gains, missing, cells = {}, {}, []
        for base, variant in recipe["models"].items():
            base_scores = model_scores(protocol, runs, base)
            recipe_scores = model_scores(protocol, runs, variant)
            screening_seeds = set(base_scores) & set(protocol.train_seeds[:2])
            for seed in sorted(set(recipe_scores) | screening_seeds):
                cells.append((base, seed, base_scores.get(seed), recipe_scores.get(seed)))
            missing[base] = sorted(screening_seeds - set(recipe_scores))
            if screening_seeds and not missing[base]:
                gains[base] = statistics.fmean(
                    recipe_scores[s].value - base_scores[s].value for s in sorted(screening_seeds)
                )
        verdict, dropped = recipe_verdict(gains, missing)
        absent = "not needed (recipe dropped)" if dropped else "not finished"
        for base, seed, b, r in cells:
            diff = f"{100 * (r.value - b.value):+.0f} points" if b and r else "–"
            rows.append(
                f"| {name} | {base} | {seed} | {b.describe() if b else '–'} | "
                f"{r.describe() if r else absent} | {diff} |"
            )
        measured = ", ".join(f"{m} {100 * g:+.0f} points" for m, g in gains.items())
        verdicts.append(
            f"- `{name}` ({recipe['levers']}): mean gain over the screening seeds {measured or '–'}: **{verdict}**."
        )
    return [
        *rows,
        "",
        *verdicts,
        "",
        *four_x_rows(protocol, results_root / f"{protocol.name}_4x_samples"),
        "",
    ]


def four_x_rows(protocol: LearningProtocol, results: Path) -> list[str]:
    """The 4x-samples point (batch 4x the protocol's, same steps; a lent GPU's runs, `bench.device`)."""
    runs = load_runs(protocol, results) if results.is_dir() else []
    if not any(r.points for r in runs):
        return [
            "4× samples (batch 32 × the same steps, on a lent GPU): not measured; no GPU has been lent "
            "to a session since the point was asked for, and CPU cannot reach it in a session."
        ]
    machines = sorted({p.machine for r in runs for p in r.points})
    rows = [
        f"4× samples (`{results.name}`: batch {4 * protocol.batch_size} × {protocol.steps} steps; "
        f"{', '.join(machines)}), scores as above:",
        "",
    ]
    for model in protocol.models:
        scores = model_scores(protocol, runs, model)
        unfinished = [r.seed for r in runs if r.model == model and r.seed not in scores]
        if scores or unfinished:
            per_seed = "; ".join(f"seed {seed}: {score.describe()}" for seed, score in sorted(scores.items()))
            rest = f"; unfinished seeds {unfinished}" if unfinished else ""
            rows.append(f"- `{model}`: {summary_cell(scores)} ({per_seed or 'no finished seed'}{rest})")
    return rows


def margin_verdict(difference: float, interval: tuple[float, float], baseline: str) -> str:
    """The `>= baseline + margin` verdict from the difference of mean scores and its interval over
    seeds: met only when the lead reaches the margin and the interval excludes 0; otherwise it says
    which of the three honest outcomes it is."""
    low, high = interval
    if low > 0:
        return (
            "met"
            if difference >= TARGET_MARGIN
            else f"not met (ahead by less than {100 * TARGET_MARGIN:.0f} points)"
        )
    if high < 0:
        return f"not met ({baseline} ahead)"
    return "not met (no difference shown)"


def target_rows(protocol: LearningProtocol, runs: list[RunResult]) -> list[str]:
    """The issue's targets with met / not met, from final (>= final_eval_episodes) points only."""
    default = [r for r in runs if r.model == protocol.default_model]
    rows = ["| target | measured | status |", "| --- | --- | --- |"]

    within = [
        (p, r.seed)
        for r in default
        for p in r.points
        if p.wall_min is not None and p.wall_min <= TARGET_MINUTES
    ]
    label = f"{protocol.default_model} ≥ {pct(TARGET_SUCCESS)} {protocol.task} success within {TARGET_MINUTES} min of training"
    if within:
        # The best point inside the budget decides; a short (intermediate) evaluation can show the
        # target missed but only a final-length one can show it met.
        best, seed = max(within, key=lambda x: (x[0].rate, x[0].n))
        if best.rate < TARGET_SUCCESS:
            status = "not met"
        elif best.n >= protocol.final_eval_episodes:
            status = "met"
        else:
            status = f"open (needs a {protocol.final_eval_episodes}-episode evaluation)"
        rows.append(
            f"| {label} | best inside the budget: {ci(best)} at step {best.step}, {best.wall_min:.0f} min "
            f"(seed {seed}) | {status} |"
        )
    else:
        rows.append(f"| {label} | no evaluation inside the budget yet | open |")

    mine = model_scores(protocol, runs, protocol.default_model)
    theirs = model_scores(protocol, runs, protocol.baseline_model)
    seeds_note = f"{len(mine)} of {VERDICT_SEEDS} seeds"
    if mine:
        mean = statistics.fmean(s.value for s in mine.values())
        spread = SeedComparison.spread(mine)
        met = mean >= TARGET_MEAN_SUCCESS and spread <= TARGET_SEED_SPREAD
        status = ("met" if met else "not met") if len(mine) >= VERDICT_SEEDS else f"open ({seeds_note})"
        rows.append(
            f"| {protocol.default_model} mean score ≥ {pct(TARGET_MEAN_SUCCESS)} with seed spread (max − min) "
            f"≤ {100 * TARGET_SEED_SPREAD:.0f} points | mean {pct(mean)}, spread {100 * spread:.0f} points "
            f"({seeds_note}) | {status} |"
        )
    if mine and theirs:
        cmp = SeedComparison(mine, theirs)
        interval = cmp.interval
        enough = len(mine) >= VERDICT_SEEDS and len(theirs) >= VERDICT_SEEDS
        status = (
            margin_verdict(cmp.difference, interval, protocol.baseline_model)
            if enough and interval is not None
            else f"open ({len(mine)} and {len(theirs)} seeds)"
        )
        ci_text = (
            f"95% Welch t-interval {100 * interval[0]:+.0f} to {100 * interval[1]:+.0f}"
            if interval
            else "no interval yet"
        )
        rows.append(
            f"| {protocol.default_model} ≥ {protocol.baseline_model} + {pct(TARGET_MARGIN)} at equal budget, "
            f"interval over seeds excluding 0 ({protocol.task}) | difference of mean scores "
            f"{100 * cmp.difference:+.0f} points ({ci_text}) | {status} |"
        )
    else:
        rows.append(
            f"| {protocol.default_model} ≥ {protocol.baseline_model} + {pct(TARGET_MARGIN)} "
            f"({protocol.task}) | scored runs of both not measured yet | open |"
        )
    return rows + [within_noise_row(protocol, runs, m, ref) for m, ref in protocol.within_noise_of.items()]


def within_noise_row(protocol: LearningProtocol, runs: list[RunResult], model: str, reference: str) -> str:
    """`model` matches `reference` (same seed) if the 95% interval of their final success difference
    holds 0 or lies above it and, where both have a held-out L1, the interval of its paired difference
    holds 0 or lies below it; it loses if either interval lies wholly on the bad side."""
    pairs = final_pairs(protocol, runs, model, reference)
    target = f"| {model} within noise of {reference} ({protocol.task}, final points)"
    if not pairs:
        return f"{target} | final points of both not measured yet | open |"
    texts, losses = [], []
    for run, mine, ref, theirs in pairs:
        seed = run.seed
        lo, hi = difference_interval(mine.k, mine.n, theirs.k, theirs.n)
        losses.append(hi < 0)
        text = (
            f"seed {seed}: success {pct(mine.rate)} vs {pct(theirs.rate)}, difference "
            f"{100 * (mine.rate - theirs.rate):+.0f} points (95% CI {100 * lo:+.0f} to {100 * hi:+.0f})"
        )
        if run.heldout_l1 and ref.heldout_l1:
            diff, l1_lo, l1_hi = paired_difference_interval(run.heldout_l1, ref.heldout_l1)
            losses.append(l1_lo > 0)
            text += (
                f"; held-out L1 {statistics.fmean(run.heldout_l1.values()):.4f} vs "
                f"{statistics.fmean(ref.heldout_l1.values()):.4f}, paired difference {diff:+.4f} "
                f"(95% CI {l1_lo:+.4f} to {l1_hi:+.4f}, {len(run.heldout_l1)} episodes)"
            )
        else:
            text += "; held-out L1 not measured yet"
        texts.append(text)
    return f"{target} | {'; '.join(texts)} | {'not met (loses)' if any(losses) else 'met'} |"


def heldout_rows(runs: list[RunResult]) -> list[str]:
    """The final checkpoints' held-out L1 as a table, for the runs that have one."""
    measured = [r for r in runs if r.heldout_l1]
    if not measured:
        return []
    rows = [
        "### Held-out L1 (final checkpoints)",
        "",
        "| model | seed | episodes | mean L1 |",
        "| --- | --- | --- | --- |",
    ]
    rows += [
        f"| {r.model} | {r.seed} | {len(r.heldout_l1)} | {statistics.fmean(r.heldout_l1.values()):.4f} |"
        for r in measured
    ]
    return [*rows, ""]


def view_gate_rows(runs: list[RunResult]) -> list[str]:
    """Mean view-gate weight per camera at each evaluated checkpoint of the gated runs.

    Weights average 1 over the cameras, so 1 each is an even split; a camera that the gate shuts out
    sits at the floor (3 x `view_gate_min_share` with three cameras).
    """
    rows = []
    for run in runs:
        for p in run.points:
            if p.view_gate:
                weights = ", ".join(f"`{cam}` {w:.2f}" for cam, w in p.view_gate.items())
                rows.append(f"| {run.model} | {run.seed} | {p.step} | {p.view_gate_episodes} | {weights} |")
    if not rows:
        return []
    return [
        "### View gate in closed loop",
        "",
        "Mean gate weight per camera over the eval episodes (1 each is an even split; the gate logs an "
        "episode when the next one starts, so an eval of n episodes logs n − 1).",
        "",
        "| model | seed | step | episodes | weight per camera |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
    ]


def render_section(
    protocol: LearningProtocol,
    runs: list[RunResult],
    figure_paths: list[Path],
    doc: Path,
    results_root: Path,
    seeds_figure: Path | None = None,
) -> str:
    stage_names = get_task(protocol.task).reward_stages
    earlier_scored = [str(s) for s in protocol.score_steps if s < protocol.steps]
    scored_note = f" and the other scored steps ({', '.join(earlier_scored)})" if earlier_scored else ""
    lines = [
        LEARNING_BEGIN,
        f"## Learning benchmark: {protocol.task} (protocol `{protocol.name}`)",
        "",
        "*Generated by `python scripts/learning_benchmark.py report` from "
        f"`docs/benchmark_results/{protocol.name}/`; do not edit by hand.*",
        "",
        *([f"Purpose: {protocol.purpose}", ""] if protocol.purpose else []),
        f"Data: {protocol.episodes} scripted episodes (seeds {protocol.record_seed}–"
        f"{protocol.record_seed + protocol.episodes - 1} or the next successful ones), cameras "
        + ", ".join(f"`{c}` {s}" for c, s in protocol.cameras.items())
        + f". Training: {protocol.steps} steps, batch {protocol.batch_size}, checkpoints every "
        f"{protocol.save_freq}; shared flags `{' '.join(protocol.train_args)}`. Evaluation: `lerobot-eval "
        f"--env.type=aloha_multicam` on seeds from {protocol.eval_seed} (disjoint from the demos), "
        f"{protocol.eval_episodes} episodes per intermediate checkpoint, {protocol.final_eval_episodes} at "
        f"the final one{scored_note}. Success rates carry their 95% Wilson interval; reward stages are the share of "
        f"episodes whose maximum reward reached {', '.join(f'{i + 1} ({n})' for i, n in enumerate(stage_names))}.",
        "",
        "Wall-clock: training steps x each model's seconds per step measured side by side on a quiet "
        "2-core CPU (`learning_benchmark.py time`, LeRobot's own step timers) where that measurement "
        "exists; the runs' own clocks (summed over resumed segments) are listed as *logged*, and include "
        "whatever else shared the machine (each run's `training.json` lists its resumed segments); a "
        "single value is the logged clock of a model with no side-by-side step time.",
        "",
    ]
    for path in figure_paths:
        lines.append(f"![{path.stem}]({path.relative_to(doc.parent).as_posix()})")
    lines += ["", "### Targets", "", *target_rows(protocol, runs), ""]
    seeds_link = seeds_figure.relative_to(doc.parent).as_posix() if seeds_figure else None
    lines += [*seed_rows(protocol, runs, seeds_link), *screening_rows(protocol, runs, results_root)]
    lines += [
        "### Every evaluated checkpoint",
        "",
        "| model | seed | machine | step | samples | wall-clock (logged) | success (k/n; 95% CI) | "
        + " | ".join(stage_names)
        + " | mean return |",
        "| --- | --- | --- | --- | --- | --- | --- | " + " | ".join("---" for _ in stage_names) + " | --- |",
    ]
    for run in runs:
        for p in run.points:
            wall = f"{p.wall_min:.0f} min" if p.wall_min is not None else "–"
            if p.logged_min is not None and p.logged_min != p.wall_min:
                wall += f" ({p.logged_min:.0f} min)"
            stages = " | ".join(pct(p.stages[s]) for s in stage_names)
            lines.append(
                f"| {run.model} | {run.seed} | {p.machine} | {p.step} | {p.samples} | {wall} | {ci(p)} | {stages} | "
                f"{p.mean_return:.1f} |"
            )
    lines += ["", *heldout_rows(runs), *view_gate_rows(runs), "### Commands", ""]
    for run in runs:
        lines += [f"`{run.model}` seed {run.seed}:", "", "```bash", run.command]
        if run.eval_command:
            lines.append("# evaluation of one checkpoint:")
            lines.append(run.eval_command)
        lines += ["```", ""]
    lines.append(LEARNING_END)
    return "\n".join(lines)


def write_learning_report(protocol: LearningProtocol, results: Path, doc: Path) -> Path:
    """Regenerate the figures and the learning section of `doc`; returns `doc`."""
    runs = load_runs(protocol, results)
    figures = plot_curves(protocol, runs, doc.parent / "figures")
    seeds_figure = plot_seed_scores(protocol, runs, doc.parent / "figures")
    section = render_section(protocol, runs, figures, doc, results.parent, seeds_figure)
    begin = LEARNING_BEGIN.replace("begin", f"begin {protocol.name}")
    end = LEARNING_END.replace("end", f"end {protocol.name}")
    splice_section(doc, section.replace(LEARNING_BEGIN, begin).replace(LEARNING_END, end), begin, end)
    summary: dict[str, Any] = {
        f"{r.model}_seed{r.seed}": [(p.step, p.k, p.n) for p in r.points] for r in runs
    }
    print(json.dumps(summary))
    return doc
