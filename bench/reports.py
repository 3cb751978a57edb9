"""Benchmark of the committee reports (issue 8): prints figures, is not a timed test.

Builds synthetic data in a fresh database (SQLite file by default, or
``--database-url``): ``--lines`` lines (5 000) spread over 100 juridictions,
one of them much busier, with successive beneficiary files over ``--years``
years (3) of events: two test calls a month per followed person (some late),
real alerts (police called for some, caller legs with durations), canaries
every hour (never counted), positions, incidents and swaps, attribution
navettes. Then it times, each in its own process so that its peak memory
(``ru_maxrss``) is its own:

1. the quarterly report of the busiest juridiction (last complete quarter),
   ODS and PDF;
2. the national half-year report (last complete half-year), ODS and PDF.

Target (issue 8): the national half-year under 10 s and under 500 MB on the
2-core machine.

Usage: ``.venv/bin/python bench/reports.py [--lines 5000] [--years 3] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
TABLES = (
    "lines",
    "sims",
    "terminals",
    "assignments",
    "files",
    "alerts",
    "legs",
    "positions",
    "incidents",
    "swaps",
    "navettes",
)
ROOT = Path(__file__).resolve().parent.parent


def _juridictions(count: int) -> list[tuple[str, str]]:
    """Pick one commune per département as a court (INSEE code, département)."""
    picked: dict[str, str] = {}
    with (ROOT / "tgd" / "data" / "communes.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            picked.setdefault(row["departement"], row["code"])
    departements = sorted(picked)[:count]
    return [(picked[d], d) for d in departements]


def generate(url: str, lines: int, years: int, seed: int = 8) -> dict[str, Any]:
    """Fill an empty database with synthetic history; return counts."""
    from sqlalchemy import insert

    import tgd.db.models  # noqa: F401 - registers every table
    from tgd.db.base import Base
    from tgd.db.models import (
        Alert,
        BeneficiaryFile,
        CallLeg,
        Incident,
        Juridiction,
        Line,
        LineAssignment,
        Navette,
        Position,
        Sim,
        Swap,
        Terminal,
        Territory,
    )
    from tgd.db.models.incidents import IncidentKind
    from tgd.db.session import make_engine
    from tgd.domain.alerts import AlertNature, LegRole, Orientation, PositionSource
    from tgd.domain.lifecycle import (
        FileState,
        LineStatus,
        NavetteKind,
        NavetteSource,
        NavetteState,
    )

    rng = random.Random(seed)
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    start = NOW - timedelta(days=365 * years)
    courts = _juridictions(100)
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        conn.execute(
            insert(Territory),
            [
                {
                    "id": i + 1,
                    "code": d,
                    "name": f"Département {d}",
                    "timezone": "Europe/Paris",
                    "created_at": start,
                }
                for i, (_code, d) in enumerate(courts)
            ],
        )
        conn.execute(
            insert(Juridiction),
            [
                {
                    "id": i + 1,
                    "insee": code,
                    "name": f"Tribunal {code}",
                    "territory_id": i + 1,
                    "created_at": start,
                }
                for i, (code, _d) in enumerate(courts)
            ],
        )
        # The busiest juridiction holds 8 % of the lines, the rest is spread evenly.
        busiest = max(1, lines * 8 // 100)
        rows: dict[str, list[dict[str, Any]]] = {k: [] for k in TABLES}
        line_rows, sims, terminals = rows["lines"], rows["sims"], rows["terminals"]
        assignments, files, alerts = rows["assignments"], rows["files"], rows["alerts"]
        legs, positions, incidents = rows["legs"], rows["positions"], rows["incidents"]
        swaps, navettes = rows["swaps"], rows["navettes"]
        order: dict[int, int] = {}
        alert_id = 0
        for n in range(1, lines + 1):
            jur = 1 if n <= busiest else 2 + (n % (len(courts) - 1))
            order[jur] = order.get(jur, 0) + 1
            code, dept = courts[jur - 1]
            sims.append({"id": n, "iccid": f"8933{n:016d}", "created_at": start})
            terminals.append(
                {"id": n, "imei": f"35{n:013d}", "model": "TGD-1", "created_at": start}
            )
            line_rows.append(
                {
                    "id": n,
                    "juridiction_id": jur,
                    "order_no": order[jur],
                    "msisdn": f"+3361{n:07d}",
                    "sim_id": n,
                    "terminal_id": n,
                    "created_at": start,
                }
            )
            at = start + timedelta(days=rng.uniform(0, 60))
            index = 0
            while at < NOW:
                index += 1
                length = timedelta(days=rng.uniform(150, 420))
                closed = at + length if at + length < NOW else None
                aid = len(assignments) + 1
                assignments.append(
                    {
                        "id": aid,
                        "line_id": n,
                        "assignment_index": index,
                        "reference": f"M {dept} {code} {order[jur]:02d} {index}",
                        "status": LineStatus.CLOTURE if closed else LineStatus.AFFECTE,
                        "status_changed_at": closed or at,
                        "is_current": closed is None,
                        "created_at": at,
                    }
                )
                fid = len(files) + 1
                commissioned = at + timedelta(hours=rng.uniform(1, 48))
                files.append(
                    {
                        "id": fid,
                        "number": f"B-{fid:07d}",
                        "assignment_id": aid,
                        "juridiction_id": jur,
                        "state": FileState.CLOTURE if closed else FileState.ATTRIBUE,
                        "created_at": at,
                        "commissioned_at": commissioned,
                        "closed_at": closed,
                    }
                )
                navettes.append(
                    {
                        "kind": NavetteKind.ATTRIBUTION,
                        "source": NavetteSource.PORTAIL,
                        "state": NavetteState.TRAITEE,
                        "juridiction_id": jur,
                        "file_id": fid,
                        "received_at": at - timedelta(minutes=rng.uniform(3, 20)),
                        "processed_at": at,
                        "is_breach": False,
                        "created_at": at,
                    }
                )
                reference = str(assignments[-1]["reference"])
                stop = closed or NOW
                # Two tests a month, a few late (gaps of up to 30 days).
                t = commissioned + timedelta(days=rng.uniform(1, 10))
                while t < stop:
                    alert_id += 1
                    alerts.append(
                        _alert(
                            alert_id,
                            n,
                            aid,
                            fid,
                            reference,
                            jur,
                            t,
                            AlertNature.ESSAI,
                            True,
                            Orientation.AUCUNE,
                            rng,
                        )
                    )
                    t += timedelta(days=rng.choice([13, 14, 15, 15, 16, 30]))
                # Real alerts: about one every two months.
                t = commissioned + timedelta(days=rng.expovariate(1 / 60))
                while t < stop:
                    alert_id += 1
                    nature = rng.choice(
                        [
                            AlertNature.DANGER_REEL,
                            AlertNature.ACCIDENTEL,
                            AlertNature.DEMANDE_SOUTIEN,
                            AlertNature.NON_CONFORME,
                            AlertNature.TECHNIQUE,
                        ]
                    )
                    police = nature is AlertNature.DANGER_REEL
                    alerts.append(
                        _alert(
                            alert_id,
                            n,
                            aid,
                            fid,
                            reference,
                            jur,
                            t,
                            nature,
                            False,
                            Orientation.FORCES_ALERTEES if police else Orientation.SOUTIEN,
                            rng,
                        )
                    )
                    legs.append(
                        {
                            "alert_id": alert_id,
                            "call_sid": f"CL{alert_id:010d}",
                            "role": LegRole.CALLER,
                            "status": "completed",
                            "started_at": t,
                            "duration_s": rng.randint(30, 900),
                        }
                    )
                    positions.append(
                        {
                            "line_id": n,
                            "file_id": fid,
                            "alert_id": alert_id,
                            "coords_enc": os.urandom(48),
                            "accuracy_m": 20,
                            "source": PositionSource.GNSS,
                            "channel": "sms",
                            "captured_at": t,
                            "received_at": t,
                        }
                    )
                    t += timedelta(days=rng.expovariate(1 / 60))
                at = (closed or NOW) + timedelta(days=8)
            # Incidents: about one every three years per line, half with a swap.
            t = start + timedelta(days=rng.expovariate(1 / 1000))
            while t < NOW:
                iid = len(incidents) + 1
                kind = rng.choice(list(IncidentKind))
                resolved = t + timedelta(hours=rng.uniform(2, 40))
                incidents.append(
                    {
                        "id": iid,
                        "kind": kind,
                        "line_id": n,
                        "terminal_id": n,
                        "reported_at": t,
                        "diagnosis": "diagnostic technique",
                        "answer": "réponse apportée",
                        "resolved_at": resolved,
                        "description": "",
                    }
                )
                if rng.random() < 0.5:
                    swaps.append(
                        {
                            "line_id": n,
                            "old_terminal_id": n,
                            "new_terminal_id": n,
                            "incident_id": iid,
                            "reported_at": t,
                            "swapped_at": resolved,
                            "cause": kind.value,
                        }
                    )
                t += timedelta(days=rng.expovariate(1 / 1000))
        # Canaries every hour (R-24c), never counted.
        t = start
        while t < NOW:
            alert_id += 1
            alerts.append(
                _alert(
                    alert_id,
                    None,
                    None,
                    None,
                    None,
                    None,
                    t,
                    AlertNature.CANARI,
                    False,
                    None,
                    rng,
                    canary=True,
                )
            )
            t += timedelta(hours=1)
        for model, batch in (
            (Sim, sims),
            (Terminal, terminals),
            (Line, line_rows),
            (LineAssignment, assignments),
            (BeneficiaryFile, files),
            (Navette, navettes),
            (Alert, alerts),
            (CallLeg, legs),
            (Position, positions),
            (Incident, incidents),
            (Swap, swaps),
        ):
            for i in range(0, len(batch), 20000):
                conn.execute(insert(model), batch[i : i + 20000])
            counts[model.__tablename__] = len(batch)
    engine.dispose()
    return counts


def _alert(
    alert_id: int,
    line_id: int | None,
    assignment_id: int | None,
    file_id: int | None,
    reference: str | None,
    jur: int | None,
    at: datetime,
    nature: Any,
    is_test: bool,
    orientation: Any,
    rng: random.Random,
    *,
    canary: bool = False,
) -> dict[str, Any]:
    from tgd.domain.alerts import AlertState

    pickup = timedelta(seconds=rng.choice([2, 3, 4, 5, 6, 7, 8, 9, 12, 25]))
    police = orientation is not None and orientation.value == "forces_alertees"
    return {
        "id": alert_id,
        "call_sid": f"CA{alert_id:012d}",
        "territory_id": jur,
        "line_id": line_id,
        "assignment_id": assignment_id,
        "file_id": file_id,
        "reference": reference,
        "conference_name": f"tgd-bench-{alert_id}",
        "state": AlertState.CLOSED,
        "nature": nature,
        "orientation": orientation,
        "is_test": is_test,
        "is_canary": canary,
        "ringing_at": at,
        "answered_at": at,
        "claimed_at": at + pickup,
        "police_called_at": at + pickup + timedelta(seconds=rng.randint(30, 240))
        if police
        else None,
        "ended_at": at + timedelta(seconds=rng.randint(20, 900)),
        "closed_at": at + timedelta(seconds=1000),
        "created_at": at,
    }


def measure(url: str, scope: str, period: str, fmt: str, out: str) -> None:
    """Build and write one report, print seconds (build, render) and peak RSS."""
    from tgd.adapters.clock import FrozenClock
    from tgd.db.session import make_engine, make_session_factory
    from tgd.services import reports

    clock = FrozenClock(NOW)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    began = time.perf_counter()
    with sessions() as session:
        kind, _, code = scope.partition(":")
        target, wanted, provisional = reports.prepare(
            session,
            juridiction=code if kind == "juridiction" else None,
            national=kind == "national",
            period=period,
            user=None,
            clock=clock,
        )
        report, _ = reports.build_report(
            session, target, wanted, provisional=provisional, clock=clock
        )
    built = time.perf_counter()
    with open(out, "wb") as handle:
        reports.write(report, fmt, handle)
    done = time.perf_counter()
    rows = sum(len(t.rows) for t in report.all_tables())
    peak = _peak_mb()
    print(f"{built - began:.2f} {done - built:.2f} {peak:.0f} {rows} {os.path.getsize(out)}")


def _peak_mb() -> float:
    """Return this process's peak resident memory (VmHWM: reset by exec, unlike ru_maxrss)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Generate, then measure each report in its own process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--keep", default="", help="keep the database and files in this folder")
    parser.add_argument("--measure", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(*args.measure)
        return
    folder = Path(args.keep or tempfile.mkdtemp(prefix="tgd-bench-reports-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    began = time.perf_counter()
    counts = generate(url, args.lines, args.years)
    print(
        f"synthetic data: {counts} in {time.perf_counter() - began:.1f} s ({url.split('://')[0]})"
    )
    cases = [
        (
            "juridiction:" + _juridictions(1)[0][0],
            "2026-T3",
            "ods",
            "quarterly report, busiest juridiction",
        ),
        (
            "juridiction:" + _juridictions(1)[0][0],
            "2026-T3",
            "pdf",
            "quarterly report, busiest juridiction",
        ),
        ("national:", "2026-S1", "ods", "national half-year"),
        ("national:", "2026-S1", "pdf", "national half-year"),
        ("national:", "2026-S1", "odt", "national half-year"),
    ]
    print(
        f"{'report':<40} {'fmt':<4} {'build s':>8} {'write s':>8} {'total s':>8} "
        f"{'peak MB':>8} {'rows':>8} {'bytes':>10}"
    )
    for scope, period, fmt, label in cases:
        out = folder / f"{label.replace(' ', '_').replace(',', '')}.{fmt}"
        done = subprocess.run(
            [sys.executable, __file__, "--measure", url, scope, period, fmt, str(out)],
            capture_output=True,
            text=True,
            check=True,
        )
        build, write, peak, rows, size = done.stdout.split()
        total = float(build) + float(write)
        print(
            f"{label:<40} {fmt:<4} {build:>8} {write:>8} {total:>8.2f} {peak:>8} {rows:>8} "
            f"{size:>10}"
        )
    print(f"files in {folder}")


if __name__ == "__main__":
    main()
