"""``hasbench``: argument parsing and dispatch only; heavy frameworks are imported lazily.

Exit codes: 0 ok, 1 some runs failed, 2 bad input (the message names the problem and fix).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_RESULTS = "results/runs"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hasbench", description="Hide-and-Seek measured with one protocol on every task."
    )
    from benchmark import package_version

    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="tasks, datasets, models, methods and suites")

    run = sub.add_parser("run", help="one run: train, evaluate, write its record")
    run.add_argument("task")
    run.add_argument("--method", default="baseline")
    run.add_argument("--dataset")
    run.add_argument("--data-root")
    run.add_argument("--model")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--epochs", type=int)
    run.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    run.add_argument("--synthetic", action="store_true",
                     help="generate the dataset (hasbench synth) under RESULTS/data and use it")
    run.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                     help="task option, e.g. batch_size=32 (repeatable)")
    run.add_argument("--pretrained", metavar="PATH",
                     help="start from a local weights file (torchvision, mmpretrain, mmseg or "
                          "torchreid checkpoint; a bare name is looked up in $HASBENCH_WEIGHTS, "
                          "default ~/.cache/torch/hub/checkpoints); part of the run id by its "
                          "sha256")
    run.add_argument("--cfg-options", nargs="+", action="extend", default=[],
                     metavar="KEY=VALUE",
                     help="set keys of the task's built config, mmengine's DictAction syntax "
                          "(e.g. optim_wrapper.optimizer.momentum=0.8; re-ID: train.lr=0.001); "
                          "an unknown key is an error; part of the run id")
    run.add_argument("--method-file", metavar="PATH",
                     help="a YAML or Python file declaring your own methods (stages per "
                          "framework, parameters to record; docs/own-method.md): pick one "
                          "with --method; part of the run id by its sha256")
    run.add_argument("--work-dir", help="parent of the run's work dir (default RESULTS/work)")
    execution = run.add_argument_group("execution (how the run is watched; not in the run id)")
    execution.add_argument("--vis-backend", choices=["local", "tensorboard", "wandb", "mlflow"],
                           help="also write the training curves to this dashboard backend "
                                "(mmengine's; re-ID: torchreid's TensorBoard writer)")
    execution.add_argument("--progress", choices=["auto", "bar", "lines", "off"],
                           help="console progress: a live line (bar, default on a terminal), "
                                "about ten lines per epoch (lines, default otherwise), or only "
                                "the per-epoch summaries (off)")
    execution.add_argument("--threads", type=int, default=1, metavar="N",
                           help="torch CPU threads for the run (default 1, as `make` runs; "
                                "another count sums floats in another order, so results "
                                "differ slightly); recorded in the record")
    execution.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                           help="level of the work dir's log (default INFO)")
    run.add_argument("--results", default=DEFAULT_RESULTS)
    run.add_argument("--amp", choices=["bfloat16", "float16"],
                     help="mixed precision: train with autocast to this dtype (CPU: bfloat16 "
                          "only); part of the run id")
    has = run.add_argument_group("HaS arguments (methods that hide; part of the run id)")
    has.add_argument("--has-grid-sizes", metavar="PX,PX,...",
                     help="cell sides in pixels at the 224-pixel reference, 0 = not hidden "
                          "(default 0,16,32,44,56; scaled like them for smaller inputs)")
    has.add_argument("--has-hide-prob", metavar="P",
                     help="probability that each cell is hidden, in [0, 1] (default 0.5; the "
                          "paper's ablation: 0.25, 0.33, 0.5, 0.66, 0.75)")
    has.add_argument("--has-fill", choices=["mean", "zero", "random"],
                     help="what hidden pixels get: the dataset mean pixel (default), 0 in "
                          "pixel space (black), or uniform noise over pixel values 0..255")
    has.add_argument("--has-grid-policy", choices=["scaled", "absolute"],
                     help="grid sizes on inputs under 224 px: scaled to keep the cell-to-image "
                          "ratio (default) or absolute pixels (a cell as large as the image "
                          "hides all of it or nothing)")
    has.add_argument("--has-placement", choices=["pipeline", "preprocessor"],
                     help="OpenMMLab tasks: hide each image in the data pipeline (default; "
                          "uint8, rounded mean) or the normalized batch in the data "
                          "preprocessor (exact 0, on the model's device: for GPU runs)")

    suite = sub.add_parser("suite", help="run a suite's runs, skipping finished ones")
    suite.add_argument("name")
    suite.add_argument("--results", help="results dir (default: the suite's own)")
    suite.add_argument("--only", help="filter, e.g. task=wsol,method=has")
    suite.add_argument("--dry-run", action="store_true", help="print the grid, run nothing")
    suite.add_argument("--retry-failed", action="store_true", help="same as --rerun failed")
    suite.add_argument("--rerun", choices=["stale", "failed", "all"],
                       help="also run recorded runs again: stale ones (the current code builds "
                            "another config), failed ones, or all (with --only); the previous "
                            "record is kept as records/<id>.prev.json, its work dir as "
                            "work/<id>.prev")
    suite.add_argument("--allow-scratch", action="store_true",
                       help="run rows whose pretrained weights are missing from random init "
                            "(recorded as such) instead of refusing them")
    suite.add_argument("--executor", choices=["local", "slurm"], default="local")
    suite.add_argument("--workers", type=int, default=1, help="local parallel workers")
    slurm = suite.add_argument_group(
        "slurm executor",
        "flags win over HASBENCH_SLURM_* env vars (see benchmark/engine/slurm.py)")
    slurm.add_argument("--partition")
    slurm.add_argument("--account")
    slurm.add_argument("--qos")
    slurm.add_argument("--time-min", type=int, help="time limit per job, minutes")
    slurm.add_argument("--no-wait", action="store_true", help="submit and return")

    table = sub.add_parser("table", help="comparison table from stored records")
    table.add_argument("--results", default=DEFAULT_RESULTS)
    table.add_argument("--format", choices=["md", "csv", "latex", "json"], default="md",
                       help="md, csv, latex: the comparison view (display strings); json: the "
                            "numeric statistics per cell (the rows of stats.csv)")

    synth = sub.add_parser("synth", help="write a generated dataset in a real dataset's layout")
    synth.add_argument("dataset")
    synth.add_argument("--out", required=True)
    synth.add_argument("--seed", type=int, default=0)

    explain = sub.add_parser("explain", help="CAM / saliency figures of finished runs")
    explain.add_argument("run_dirs", nargs="+", type=Path)
    explain.add_argument("--n", type=int, default=16)
    explain.add_argument("--out", type=Path)

    report = sub.add_parser("report", help="REPORT.md + report.html from a suite's records")
    report.add_argument("suite", nargs="?")
    report.add_argument("--results")
    report.add_argument("--all", action="store_true", help="every results/<suite>/ with records")

    status = sub.add_parser("status", help="done / running / failed / missing per task and method")
    status.add_argument("suite", nargs="?", default="demo")
    status.add_argument("--results")
    status.add_argument("--no-stale", action="store_true",
                        help="skip building each run's config to detect stale records")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hasbench`` console script."""
    from benchmark.engine.progress import quiet_known_warnings

    quiet_known_warnings()
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ValueError as err:
        print(f"hasbench {args.command}: error: {err}", file=sys.stderr)
        return 2


def cmd_list(args: argparse.Namespace) -> int:
    """Print tasks with their datasets, models and metrics; methods; suites."""
    from benchmark.engine.suite import suite_names
    from benchmark.methods import METHODS
    from tasks import available_tasks, get_task

    for name in available_tasks():
        task = get_task(name)
        print(f"{name} ({task.framework})")
        for ds in task.datasets.values():
            synth = "  [synth]" if ds.synth else ""
            print(f"  dataset {ds.name:22s} {ds.layout}{synth}")
        print(f"  models  {', '.join(task.models)}")
        print(f"  metrics {', '.join(task.metrics)}")
        print(f"  methods {', '.join(task.methods)}")
    print(f"methods: {', '.join(METHODS)}")
    print(f"suites: {', '.join(suite_names())}")
    return 0


def _parse_options(pairs: list[str]) -> tuple:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"bad --option {pair!r}; use KEY=VALUE, e.g. --option batch_size=32")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return tuple(sorted(options.items()))


def _has_options(args: argparse.Namespace) -> dict:
    """The ``--has-*`` flags as spec options (checked with the method before training)."""
    options: dict = {}
    if args.has_grid_sizes is not None:
        parts = [p.strip() for p in args.has_grid_sizes.split(",")]
        try:
            options["has_grid_sizes_px"] = [int(p) for p in parts]
        except ValueError:
            raise ValueError(
                f"--has-grid-sizes takes comma-separated whole pixels, e.g. 0,16,32,44,56; "
                f"got {args.has_grid_sizes!r}"
            ) from None
    if args.has_placement is not None:
        options["has_placement"] = args.has_placement
    for flag in ("has_fill", "has_grid_policy"):
        if getattr(args, flag, None) is not None:
            options[flag] = getattr(args, flag)
    if args.has_hide_prob is not None:
        try:
            options["has_hide_prob"] = float(args.has_hide_prob)
        except ValueError:
            raise ValueError(
                f"--has-hide-prob takes a probability in [0, 1], e.g. 0.5; got "
                f"{args.has_hide_prob!r}"
            ) from None
    return options


def _execution_options(args: argparse.Namespace) -> dict:
    """The execution flags as spec options (never part of the run id)."""
    given = {"vis_backend": args.vis_backend, "progress": args.progress,
             "log_level": args.log_level, "threads": args.threads}
    return {key: value for key, value in given.items() if value is not None}


def cmd_run(args: argparse.Namespace) -> int:
    """Run one spec and print its metrics."""
    from benchmark.engine.runner import run_one
    from benchmark.engine.spec import RunSpec

    spec = RunSpec(
        task=args.task, method=args.method, dataset=args.dataset, data_root=args.data_root,
        model=args.model, seed=args.seed, epochs=args.epochs, device=args.device,
        options=_parse_options(args.option), synthetic=args.synthetic,
    )
    spec = spec.with_options(**_has_options(args), **_execution_options(args))
    if args.pretrained:
        spec = spec.with_options(pretrained=args.pretrained)
    if args.amp:
        spec = spec.with_options(amp=args.amp)
    if args.cfg_options:
        from benchmark.cfg_options import parse_pairs

        spec = spec.with_options(cfg_options=parse_pairs(args.cfg_options))
    if args.method_file:
        spec = spec.with_options(method_file=args.method_file)
    record = run_one(spec, args.results, work_root=args.work_dir)
    print(json.dumps({"run_id": record.run_id, "status": record.status,
                      "metrics": record.metrics, "reason": record.reason}, indent=1))
    print(f"record: {Path(args.results) / 'records' / (record.run_id + '.json')}")
    return 0 if record.ok else 1


def cmd_suite(args: argparse.Namespace) -> int:
    """Validate every pending run of a suite, then execute them and write the tables."""
    from benchmark.engine import suite as suites

    suite = suites.load_suite(args.name, args.results)
    runs = suites.select(suite.runs, suites.parse_only(args.only))
    if args.allow_scratch:
        runs = _scratch_where_weights_missing(runs)
    rerun = args.rerun or ("failed" if args.retry_failed else None)
    states = {id(r): suites.run_state(suite.results_dir, r.spec, check_stale=rerun == "stale")
              for r in runs}
    again = {"stale": {"stale"}, "failed": {"failed"}, "all": {"done", "failed"}}.get(rerun, set())
    pending = [r for r in runs if states[id(r)] == "missing" or states[id(r)] in again]
    if args.dry_run:
        return _print_grid(suite, runs, states)
    _validate_all(pending, suite.results_dir)
    _set_aside_reruns([r for r in pending if states[id(r)] != "missing"], suite.results_dir)
    running = sum(states[id(r)] == "running" for r in runs)
    print(f"[hasbench] suite {suite.name}: {len(runs)} runs, "
          f"{len(runs) - len(pending) - running} already recorded, "
          + (f"{running} running elsewhere (skipped), " if running else "")
          + f"{len(pending)} to run -> {suite.results_dir}", file=sys.stderr)
    if args.executor == "slurm":
        from benchmark.engine.slurm import run_slurm

        outcomes = run_slurm(suite, pending, partition=args.partition, account=args.account,
                             qos=args.qos, time_min=args.time_min, poll=not args.no_wait)
    else:
        from benchmark.engine.local import run_local

        outcomes = run_local(suite, pending, workers=args.workers)
    _explain_baseline_vs_has(suite)
    _write_outputs(suite.results_dir, args.name)
    return 1 if any(status not in ("ok", "submitted") for _, status, _ in outcomes) else 0


def _set_aside_reruns(runs: list, results_dir: Path) -> None:
    """Keep each rerun's previous record and work dir beside it (``records.set_aside``)."""
    from benchmark.engine.records import set_aside
    from tasks import get_task

    for run in runs:
        run_id = get_task(run.spec.task).resolve(run.spec).run_id()
        previous = set_aside(results_dir, run_id)
        print(f"[hasbench] rerun {run.spec.label}: previous record kept as {previous}",
              file=sys.stderr)


def _explain_baseline_vs_has(suite) -> None:
    """For tasks that draw explanations, put each finished baseline and HaS run side by side.

    Writes ``<results>/explain/<task>__<dataset>__<model>.png`` (CAMs, saliency); not under
    ``figures/``, which the report owns and rewrites.
    """
    from collections import defaultdict

    from benchmark.engine.records import read_records

    groups: dict[tuple, dict[str, Path]] = defaultdict(dict)
    for record in read_records(suite.results_dir):
        work_dir = record.provenance.get("work_dir")
        if record.ok and record.method in ("baseline", "has") and work_dir:
            groups[(record.task, record.dataset, record.model, record.seed)][record.method] = (
                Path(work_dir))
    for (task, dataset, model, seed), runs in sorted(groups.items()):
        explain = _explainer(task)
        if explain is None or len(runs) < 2 or seed != 0:
            continue
        out = suite.results_dir / "explain" / f"{task}__{dataset}__{model}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            print(f"[hasbench] explanation figure: {explain([runs['baseline'], runs['has']], out)}",
                  file=sys.stderr)
        except Exception as err:  # a figure must never fail the suite whose records exist
            print(f"[hasbench] no explanation figure for {task}: {err}", file=sys.stderr)


def _explainer(task_name: str):
    """The task's ``explain(run_dirs, out, n=...)`` (CAMs, saliency), or None if it has none.

    Raises:
        ValueError: for an unknown task.
    """
    from tasks import get_task

    get_task(task_name)  # imports tasks.<task_name>, the package that defines explain
    return getattr(sys.modules[f"tasks.{task_name}"], "explain", None)


def _weights_state(spec) -> str:
    """``-`` (random init), or the weights file's name and whether it is present."""
    from benchmark.engine.pretrained import resolve_weights

    given = spec.option_dict.get("pretrained")
    if not given:
        return "-"
    try:
        resolve_weights(given)
    except ValueError:
        return f"{Path(str(given)).name} (MISSING)"
    return f"{Path(str(given)).name} (present)"


def _scratch_where_weights_missing(runs: list) -> list:
    """``--allow-scratch``: runs whose weights file is missing lose their ``pretrained``."""
    import dataclasses

    kept = []
    for run in runs:
        if _weights_state(run.spec).endswith("(MISSING)"):
            options = tuple(kv for kv in run.spec.options if kv[0] != "pretrained")
            print(f"[hasbench] --allow-scratch: {run.spec.label} starts from random init "
                  f"({run.spec.option_dict['pretrained']} is missing)", file=sys.stderr)
            run = dataclasses.replace(run, spec=dataclasses.replace(run.spec, options=options))
        kept.append(run)
    return kept


def _validate_all(runs: list, results_dir: Path) -> None:
    """Resolve and check every run before any training; report all problems at once."""
    from benchmark.engine.runner import prepare

    problems = []
    for run in runs:
        try:
            task, resolved = prepare(run.spec, results_dir)
            task.check_resume(resolved, Path(results_dir) / "work" / resolved.run_id())
        except ValueError as err:
            problems.append(f"  {run.spec.task}/{run.spec.method}: {err}")
    if problems:
        raise ValueError("nothing was run; fix these first:\n" + "\n".join(problems))


def _print_grid(suite, runs: list, states: dict) -> int:
    """The dry run: each run, its state and GPU-hour estimate; the job count and totals.

    Estimates come from ``benchmark.engine.gpu_hours``: measured throughput
    (``$HASBENCH_PERF_DIR``, default ``results/perf/gpu/*.csv``) where there is one, else the
    run's time limit x GPUs.
    """
    from benchmark.engine import gpu_hours
    from tasks import get_task

    measured = gpu_hours.read_throughputs()
    print(f"suite {suite.name}: {len(runs)} runs -> {suite.results_dir}")
    estimates = []
    for run in runs:
        s = run.spec
        resolved = get_task(s.task).resolve(s)
        est = gpu_hours.estimate(resolved, run.resources, measured)
        estimates.append(est)
        print(f"  {states[id(run)]:8s} {s.task:20s} {s.dataset_label:18s} {s.model or '-':18s} "
              f"{s.method:20s} seed={s.seed} epochs={resolved.epochs} "
              f"weights={_weights_state(s)} "
              f"{run.resources} {est.label} ({est.note})")
    total, bound, counted = gpu_hours.totals(estimates)
    print(f"jobs: {len(runs)}, pending: {sum(st != 'done' for st in states.values())}, "
          f"GPU-hours: {total:.1f} measured where available ({counted} of {len(runs)} runs "
          f"measured, the time limit for the rest), {bound:.1f} upper bound from time limits")
    # Not indented: the indented lines are the runs (scripts read their first word).
    print(f"GPU-hour estimates: {gpu_hours.ASSUMPTIONS}; throughput from "
          f"{gpu_hours.perf_dir()} (${gpu_hours.PERF_DIR_ENV})")
    over = sum(e.over_limit for e in estimates)
    if over:
        print(f"over the time limit: {over} runs' measured time per GPU exceeds it; raise "
              "their resources.hours in the suite")
    missing = sorted({_weights_state(r.spec) for r in runs} - {"-"})
    missing = [m.removesuffix(" (MISSING)") for m in missing if m.endswith("(MISSING)")]
    if missing:
        print(f"weights missing (put them in $HASBENCH_WEIGHTS, or pass --allow-scratch): "
              f"{', '.join(missing)}")
    return 0


def _write_outputs(results_dir: Path, suite_name: str | None) -> None:
    """Write the views and the report next to the records; print the summary and paths."""
    from benchmark.reporting import report
    from benchmark.reporting import table as results

    table = results.load_table(results_dir)
    if table.empty:
        print("no records yet", file=sys.stderr)
        return
    written = results.write_views(results_dir)
    path = report.write_report(results_dir, suite=suite_name)
    print(report.summary_text(results_dir))
    print(f"\nrecords: {results_dir}/records (one JSON per run)")
    print(f"tables:  {', '.join(str(p) for p in written)}")
    print(f"report:  {path}")


def cmd_table(args: argparse.Namespace) -> int:
    """Print the comparison view of stored records (``--format json``: the statistics)."""
    from benchmark.reporting import stats
    from benchmark.reporting import table as results

    table = results.load_table(args.results)
    if table.empty:
        raise ValueError(f"no records under {args.results}/records; run `hasbench run` or a suite")
    if args.format == "json":
        sys.stdout.write(stats.to_json(results.stats_table(table)))
    else:
        print(results.render(results.comparison(table), args.format))
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    """Write a generated dataset in a dataset's real layout."""
    from tasks import available_tasks, get_task

    for name in available_tasks():
        info = get_task(name).datasets.get(args.dataset)
        if info is not None and info.synth is not None:
            out = Path(args.out)
            info.synth(out, args.seed)
            print(f"wrote generated {args.dataset} ({info.layout}) to {out}")
            return 0
    known = sorted(
        ds.name for n in available_tasks() for ds in get_task(n).datasets.values() if ds.synth
    )
    raise ValueError(f"no generator for dataset {args.dataset!r}; generators: {', '.join(known)}")


def cmd_explain(args: argparse.Namespace) -> int:
    """Ask the runs' task to draw its explanation figure (CAMs, saliency)."""
    from benchmark.engine.spec import RunSpec

    tasks = {RunSpec.from_run_dir(run_dir).task for run_dir in args.run_dirs}
    if len(tasks) != 1:
        raise ValueError(f"explain compares runs of one task; got {sorted(tasks)}")
    task_name = tasks.pop()
    explain = _explainer(task_name)
    if explain is None:
        raise ValueError(f"task {task_name!r} has no explanation figure")
    out = args.out or args.run_dirs[0] / "explain.png"
    print(f"wrote {explain(list(args.run_dirs), out, n=args.n)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write tables and REPORT.md / report.html from stored records alone.

    With ``--all``, for every results dir under ``results/`` that holds records.
    """
    from benchmark.engine.paths import REPO_ROOT
    from benchmark.engine.suite import load_suite, suite_names

    if args.all:
        targets = [(p.parent, p.parent.name if p.parent.name in suite_names() else None)
                   for p in sorted((REPO_ROOT / "results").glob("*/records"))]
        if not targets:
            raise ValueError("no results/<suite>/records yet; run `make demo` or a suite first")
    elif args.results:
        targets = [(Path(args.results), args.suite)]
    else:
        name = args.suite or "demo"
        targets = [(load_suite(name).results_dir, name)]
    for results_dir, suite_name in targets:
        _write_outputs(results_dir, suite_name)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Count done / running / failed / missing runs per task and method."""
    from collections import Counter

    from benchmark.engine import suite as suites

    suite = suites.load_suite(args.suite, args.results)
    counts: Counter = Counter()
    for run in suite.runs:
        state = suites.run_state(suite.results_dir, run.spec, check_stale=not args.no_stale)
        counts[(run.spec.task, run.spec.method, state)] += 1
    print(f"suite {suite.name} ({suite.results_dir})")
    print(f"  {'task':20s} {'method':20s} done stale running failed missing")
    for task, method in sorted({(t, m) for t, m, _ in counts}):
        row = [counts[(task, method, s)] for s in ("done", "stale", "running", "failed",
                                                   "missing")]
        print(f"  {task:20s} {method:20s} {row[0]:4d} {row[1]:5d} {row[2]:7d} {row[3]:6d} "
              f"{row[4]:7d}")
    if any(state == "stale" for _, _, state in counts):
        print(f"stale: the current code builds another config; rerun them with "
              f"`hasbench suite {suite.name} --rerun stale`")
    return 0


COMMANDS = {
    "list": cmd_list, "run": cmd_run, "suite": cmd_suite, "table": cmd_table,
    "synth": cmd_synth, "explain": cmd_explain, "report": cmd_report, "status": cmd_status,
}

if __name__ == "__main__":
    sys.exit(main())
