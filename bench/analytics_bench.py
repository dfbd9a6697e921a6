"""Analytics benchmark: projection, report and dashboard render times on
generated tracker stores of 10k and 100k conversations, SQLite and PostgreSQL.

    .venv-analytics/bin/python bench/analytics_bench.py [--sizes 10000,100000]
                                                       [--backends sqlite,postgresql]

Each measurement runs in its own process so that its peak memory (max RSS)
is its own. Goals (docs/analytics.md): 100k projected < 60 s, report < 2 s,
incremental update with 1k new conversations < 2 s.
PostgreSQL: 127.0.0.1:5432, user postgres, database `test`; the benchmark
uses its own schemas and drops them afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"
END = "2026-06-30"  # fixed, so runs are comparable
GOALS = {"full_100k": 60.0, "report": 2.0, "incremental_1k": 2.0}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --- phases (each in its own process) -------------------------------------


def phase_generate(args) -> dict:
    import datetime as dt

    from analytics.db import writable_engine
    from analytics.generate import generate

    end = dt.datetime.fromisoformat(END + "T23:59:00+00:00").timestamp()
    t = time.perf_counter()
    plans = generate(writable_engine(args.db), args.n, args.seed, end=end)
    return {"seconds": time.perf_counter() - t, "surveys": len(plans)}


def _projection(args):
    from analytics.db import writable_engine
    from analytics.projection import Projection

    return Projection(writable_engine(args.analytics_db), args.schema)


def phase_project(args) -> dict:
    from analytics.db import tracker_engine

    t = time.perf_counter()
    result = _projection(args).update(tracker_engine(args.db), rebuild=args.rebuild)
    return {
        "seconds": time.perf_counter() - t,
        "mode": result.mode,
        "responses": result.responses,
        "senders": result.senders,
    }


def phase_report(args) -> dict:
    # What `python -m analytics report --format json` does, timed in-process
    # (interpreter start-up and imports are reported apart).
    t0 = time.perf_counter()
    from analytics.dataset import Filters, load_dataset
    from analytics.db import tracker_engine
    from analytics.drivers import load_catalogue
    from analytics.report import build_report, to_json
    from analytics.settings import load_settings

    imported = time.perf_counter() - t0
    settings = load_settings()
    t = time.perf_counter()
    projection = _projection(args)
    projection.update(tracker_engine(args.db))
    ds = load_dataset(projection, parts=())
    report = build_report(
        ds, load_catalogue(settings.drivers_file, settings.known_issues_file), Filters()
    )
    text = to_json(report)
    return {
        "seconds": time.perf_counter() - t,
        "imports": imported,
        "responses": report["responses"],
        "nps": report["nps"],
        "bytes": len(text),
    }


def phase_render(args) -> dict:
    from streamlit.testing.v1 import AppTest

    os.environ["NPS_DB_URL"] = args.db
    os.environ["NPS_ANALYTICS_DB_URL"] = args.analytics_db
    os.environ["NPS_ANALYTICS_SCHEMA"] = args.schema
    t = time.perf_counter()
    at = AppTest.from_file(
        str(ROOT / "analytics" / "dashboard" / "views" / "overview.py"), default_timeout=600
    )
    at.run()
    seconds = time.perf_counter() - t
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    nps = next(m.value for m in at.metric if m.label == "NPS")
    return {"seconds": seconds, "nps": nps}


PHASES = {
    "generate": phase_generate,
    "project": phase_project,
    "report": phase_report,
    "render": phase_render,
}


def run_phase(name: str, **kw) -> dict:
    cmd = [sys.executable, __file__, "--phase", name]
    for key, value in kw.items():
        if value is True:
            cmd.append(f"--{key.replace('_', '-')}")
        elif value not in (None, False):
            cmd += [f"--{key.replace('_', '-')}", str(value)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- driver ---------------------------------------------------------------


def _stores(backend: str, n: int):
    """(tracker URL, projection URL, projection schema, cleanup)."""
    if backend == "sqlite":
        folder = ROOT / "var" / "bench"
        folder.mkdir(parents=True, exist_ok=True)
        tracker, projection = folder / f"tracker_{n}.db", folder / f"analytics_{n}.db"
        for p in (tracker, projection):
            p.unlink(missing_ok=True)

        def cleanup():
            for p in (tracker, projection):
                p.unlink(missing_ok=True)

        return f"sqlite:///{tracker}", f"sqlite:///{projection}", "nps_analytics", cleanup

    import sqlalchemy as sa

    tag = uuid.uuid4().hex[:8]
    tracker_schema, projection_schema = f"bench_tracker_{tag}", f"bench_proj_{tag}"
    admin = sa.create_engine(PG_BASE)
    with admin.begin() as conn:
        conn.execute(sa.schema.CreateSchema(tracker_schema))

    def cleanup():
        with admin.begin() as conn:
            for s in (tracker_schema, projection_schema):
                conn.execute(sa.schema.DropSchema(s, cascade=True, if_exists=True))
        admin.dispose()

    return (
        f"{PG_BASE}?options=-csearch_path%3D{tracker_schema}",
        PG_BASE,
        projection_schema,
        cleanup,
    )


def bench(backend: str, n: int) -> dict:
    db, analytics_db, schema, cleanup = _stores(backend, n)
    common = {"db": db, "analytics_db": analytics_db, "schema": schema}
    try:
        gen = run_phase("generate", db=db, n=n, seed=1)
        full = run_phase("project", rebuild=True, **common)
        gen_new = run_phase("generate", db=db, n=1000, seed=2)
        inc = run_phase("project", **common)
        rep = run_phase("report", **common)
        render = run_phase("render", **common)
    finally:
        cleanup()
    return {
        "backend": backend,
        "conversations": n,
        "surveys": gen["surveys"] + gen_new["surveys"],
        "generate_s": gen["seconds"],
        "full_s": full["seconds"],
        "full_peak_mb": full["peak_mb"],
        "incremental_s": inc["seconds"],
        "incremental_mode": inc["mode"],
        "incremental_senders": inc["senders"],
        "report_s": rep["seconds"],
        "report_imports_s": rep["imports"],
        "report_peak_mb": rep["peak_mb"],
        "render_s": render["seconds"],
        "render_peak_mb": render["peak_mb"],
        "nps": rep["nps"],
        "dashboard_nps": render["nps"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--phase", choices=sorted(PHASES))
    parser.add_argument("--db")
    parser.add_argument("--analytics-db")
    parser.add_argument("--schema", default="nps_analytics")
    parser.add_argument("--n", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    if args.phase:
        out = PHASES[args.phase](args)
        out["peak_mb"] = _peak_mb()
        print(json.dumps(out))
        return

    rows = []
    print(f"analytics benchmark, {os.cpu_count()} CPUs; each line: one store, fresh", flush=True)
    for backend in args.backends.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            row = bench(backend, n)
            rows.append(row)
            print(
                json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}),
                flush=True,
            )
    print()
    print(
        "| backend | conversations | surveys | generate s | full projection s | peak MB | incremental +1k s "
        "| report s | report peak MB | dashboard first render s | render peak MB |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['backend']} | {r['conversations']:,} | {r['surveys']:,} | {r['generate_s']:.1f} | "
            f"{r['full_s']:.2f} | {r['full_peak_mb']:.0f} | {r['incremental_s']:.2f} | {r['report_s']:.2f} | "
            f"{r['report_peak_mb']:.0f} | {r['render_s']:.2f} | {r['render_peak_mb']:.0f} |"
        )
    print()
    for r in rows:
        checks = [
            ("incremental +1k", r["incremental_s"], GOALS["incremental_1k"]),
            ("report", r["report_s"], GOALS["report"]),
        ]
        if r["conversations"] >= 100_000:
            checks.append(("full projection", r["full_s"], GOALS["full_100k"]))
        for name, value, goal in checks:
            verdict = "ok" if value < goal else "MISSED"
            print(
                f"{r['backend']} {r['conversations']:,}: {name} {value:.2f} s (goal < {goal:.0f} s): {verdict}"
            )
        if str(r["nps"]) != str(r["dashboard_nps"]).replace("–", "None"):
            print(
                f"{r['backend']} {r['conversations']:,}: report NPS {r['nps']} vs dashboard {r['dashboard_nps']}"
            )


if __name__ == "__main__":
    main()
