"""200 simultaneous SIP calls through the IVR on a lab Asterisk (issue 13).

Needs a lab Asterisk (``deploy/asterisk/lab.sh start``) named by ``IVR_LAB_ASTERISK`` as for
``tests/sip``, and SIPp. It starts the service (``tests/sip/lab_service.py``, dial template
``Local/{number}@ivr-outbound``, the assistance line recorded), a SIPp answering every
call the trunk carries on 127.0.0.1:5070 (person.xml) and a SIPp placing ``--calls`` calls
at ``--rate`` per second from 127.0.0.1:5071 (caller_info.xml): each caller types 1 3 and 1
(Bouches-du-Rhône, a level-1 reason) as SIP INFO during the welcome, hears the recording
notice and the transfer prompt, is bridged to a referent reached over the trunk (the
answering SIPp), and hangs up ``--hold`` seconds after its answer. Neither SIPp sends RTP
(Asterisk's RTP to them is dropped by a bound, unread socket): the load is signalling, the
IVR, prompts, bridging and recording.

It reports the calls placed, failed (on either side), the most calls up at once, what is
left in Asterisk afterwards, and the CPU time of the service's process and of Asterisk
over the run, per call.

    IVR_LAB_ASTERISK="ari=http://127.0.0.1:8088" .venv/bin/python bench/bench_sip.py \\
        --asterisk-pid "$(cat /work/lab/asterisk/var/run/asterisk/asterisk.pid)"
"""

from __future__ import annotations

import argparse
import csv
import os
import socket
import sqlite3
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.sip.lab import (  # noqa: E402
    CALLER_PORT,
    HOST,
    OPERATOR_PORT,
    SCENARIOS,
    Ari,
    LabAsterisk,
    Sipp,
    running_service,
)

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def stat_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


def service_records(database: Path) -> tuple[dict[str, int], int]:
    """The calls by outcome and the recordings the service wrote (its embedded SQLite)."""
    if not database.exists():
        return {}, 0
    with closing(sqlite3.connect(database)) as db:
        outcomes = dict(db.execute("SELECT outcome, count(*) FROM calls GROUP BY outcome"))
        [(recordings,)] = db.execute("SELECT count(*) FROM recordings")
    return {str(k): int(v) for k, v in outcomes.items()}, int(recordings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--hold", type=float, default=40.0, help="seconds from answer to BYE")
    parser.add_argument("--asterisk-pid", type=int, required=True)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--service-port", type=int, default=8192)
    parser.add_argument(
        "--trace",
        action="store_true",
        help="SIPp message traces (costly: the runs of 2026-12-07 had them on)",
    )
    args = parser.parse_args()
    lab = LabAsterisk.from_env()
    if lab is None:
        raise SystemExit("IVR_LAB_ASTERISK is not set")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-sip-"))
    work.mkdir(parents=True, exist_ok=True)
    ari = Ari(lab)
    left = ari.wait_empty(timeout=1)
    if left != ([], []):
        raise SystemExit(f"the lab Asterisk is not idle: {left}")
    # Where Asterisk sends the RTP: bound (no ICMP), never read (nothing to pay for).
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind((HOST, 0))
    rtp_port = str(sink.getsockname()[1])

    with running_service(lab, work, args.service_port) as service:
        destinations = Sipp(
            "destinations", work,
            ["-sf", str(SCENARIOS / "person.xml"), "-i", HOST, "-p", str(OPERATOR_PORT),
             "-mp", str(30000 + OPERATOR_PORT), "-set", "rtp_port", rtp_port,
             "-d", "600000", "-aa", "-max_socket", "4096"],
            trace=args.trace,
        ).start()  # fmt: skip
        time.sleep(1)
        service_pid = service.process.pid
        cpu0 = (cpu_seconds(service_pid), cpu_seconds(args.asterisk_pid), time.monotonic())
        callers = Sipp(
            "callers", work,
            [lab.sip, "-sf", str(SCENARIOS / "caller_info.xml"), "-i", HOST,
             "-p", str(CALLER_PORT), "-mp", str(30000 + CALLER_PORT), "-s", "0806000156",
             "-set", "caller", "+33612345678", "-set", "rtp_port", rtp_port,
             "-set", "info_at", "500", "-set", "info_wait", "400",
             "-set", "info_1", "1", "-set", "info_2", "3", "-set", "info_3", "1",
             "-d", str(int(args.hold * 1000)), "-r", str(args.rate), "-l", str(args.calls),
             "-m", str(args.calls), "-timeout", str(int(args.hold + 120)),
             "-max_socket", "4096"],
            trace=args.trace,
        ).start()  # fmt: skip
        code = callers.wait(timeout=args.hold + 180)
        cpu1 = (cpu_seconds(service_pid), cpu_seconds(args.asterisk_pid), time.monotonic())
        try:
            channels, bridges = ari.wait_empty(timeout=30)
        except httpx.HTTPError as exc:  # Asterisk's ARI no longer answers (run 4: a deadlock)
            print(f"ARI does not answer after the run: {exc!r}")
            channels, bridges = ["?"], ["?"]
        destinations.stop()
        log = service.log_text()
    sink.close()

    rows = stat_rows(work / "callers.stat.csv")
    dest_rows = stat_rows(work / "destinations.stat.csv")
    last = rows[-1] if rows else {}
    peak_callers = max((int(r.get("CurrentCall", 0) or 0) for r in rows), default=0)
    peak_dest = max((int(r.get("CurrentCall", 0) or 0) for r in dest_rows), default=0)
    dest_last = dest_rows[-1] if dest_rows else {}
    ok = int(last.get("SuccessfulCall(C)", 0) or 0)
    failed = int(last.get("FailedCall(C)", 0) or 0)
    service_cpu = cpu1[0] - cpu0[0]
    asterisk_cpu = cpu1[1] - cpu0[1]
    wall = cpu1[2] - cpu0[2]
    warnings = [line for line in log.splitlines() if " ERROR " in line or "Traceback" in line]
    unreachable = sum(1 for line in log.splitlines() if "Asterisk unreachable" in line)
    outcomes, recordings = service_records(work / "data" / "ivr.sqlite3")
    print(f"work directory: {work}")
    print(f"SIPp callers exit code {code}; calls {args.calls} at {args.rate}/s, hold {args.hold} s")
    print("| figure | value |")
    print("|---|---|")
    print(f"| calls placed / successful / failed (caller side) | {args.calls} / {ok} / {failed} |")
    print(
        f"| destinations answered / failed (answering SIPp) | "
        f"{dest_last.get('SuccessfulCall(C)', '?')} / {dest_last.get('FailedCall(C)', '?')} |"
    )
    print(f"| most calls up at once (callers / destinations) | {peak_callers} / {peak_dest} |")
    print(f"| channels / bridges left | {len(channels)} / {len(bridges)} |")
    print(f"| wall time of the run | {wall:.1f} s |")
    for who, cpu in (("service", service_cpu), ("Asterisk", asterisk_cpu)):
        print(f"| {who} CPU | {cpu:.2f} s, {1000 * cpu / args.calls:.1f} ms per call |")
    shown = ", ".join(f"{outcome} {count}" for outcome, count in sorted(outcomes.items()))
    print(f"| calls by outcome (the service's records) | {shown or 'none'} |")
    print(f"| recordings stored (the service's records) | {recordings} |")
    print(f'| service log lines "Asterisk unreachable" | {unreachable} |')
    print(f"| service log lines with ERROR or a traceback | {len(warnings)} |")
    for line in warnings[:10]:
        print("   ", line)


if __name__ == "__main__":
    main()
