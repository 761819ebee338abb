"""Provenance and sync benchmark: a job's document in each format, the chain query over a chain
of jobs, and a synchronous echo's round trip beside create + WAIT (local manager, SQLite); then
the CPU time of building one document in process (load-resistant), for the OPUS example's job
with ``--results`` pattern results, an upload and another job's result.

Usage: python bench/bench_provenance.py [--chain 10] [--repeat 20] [--results 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import ROOT, timed, uws_server  # noqa: E402


def run_job(base: str, message: str) -> str:
    """An echo job run to its end (created with PHASE=RUN, then WAIT): its URL."""
    created = requests.post(
        f"{base}/rest/echo",
        data={"message": message, "PHASE": "RUN"},
        allow_redirects=False,
        timeout=60,
    )
    url = created.headers["Location"]
    for phase in ("QUEUED", "EXECUTING"):
        requests.get(f"{url}?WAIT=30&PHASE={phase}", timeout=60)
    assert requests.get(f"{url}/phase", timeout=60).text == "COMPLETED"
    return url


def median_ms(action: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def build_cpu_us(results: int, repeat: int) -> float:
    """CPU microseconds to build and serialise (PROV-JSON) one job's document, median of 5."""
    from uws_pyramid.jdl.votable import read_votable
    from uws_pyramid.jobs import Job, Phase, Result
    from uws_pyramid.provenance.document import JobFacts, Service, add_job, new_document

    jd = read_votable((ROOT / "tests" / "data" / "opus" / "lightcurve_vot.xml").read_bytes())
    used = "http://h/rest/echo/x1/results/output"
    made = [
        Result(f"plots_plot_{i}.png", f"plot_{i}.png", "image/png", 8, "9f" * 32, "A plot", "plots")
        for i in range(results)
    ]
    job = Job(
        "abc123",
        "lightcurve",
        phase=Phase.COMPLETED,
        parameters={"infile": ".uws/uploads/infile/lc.csv", "period": "1.5", "method": used},
        results=made,
    )
    service = Service(("http://h/",))
    output = Result("output", "out.txt", "text/plain", 5, "ab" * 32)
    facts = JobFacts(
        job,
        jd,
        frozenset({"infile"}),
        {"infile": 14},
        inputs={used.removeprefix("http://h/"): output},
    )
    rounds = []
    for _ in range(5):
        t0 = time.process_time()
        for _ in range(repeat):
            doc = new_document(service)
            add_job(doc, facts, service)
            doc.serialize(format="json")
        rounds.append((time.process_time() - t0) / repeat)
    return statistics.median(rounds) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chain", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--results", type=int, default=10)
    args = parser.parse_args()
    settings = {
        "uws.storage": "sqlite",
        "uws.storage.path": "uws.sqlite",
        "uws.manager": "local",
        "uws.jdl_dir": str(ROOT / "jdl"),
        "uws.auth.anonymous": "true",
        "uws.workdir": "jobs",
    }
    with uws_server(settings) as base:
        urls = [run_job(base, "first")]
        for _ in range(args.chain - 1):
            urls.append(run_job(base, f"{urls[-1]}/results/output"))
        path = urls[-1].split(base, 1)[1]
        first_id, last_id = urls[0].rsplit("/", 1)[1], urls[-1].rsplit("/", 1)[1]
        queries = {
            **{
                f"job {fmt}": f"{path}/provenance?format={fmt}"
                for fmt in ("json", "xml", "provn", "svg")
            },
            "chain BACK": f"/provenance?ID={last_id}&DEPTH=ALL",
            "chain FORWARD": f"/provenance?ID={first_id}&DEPTH=ALL&DIRECTION=FORWARD",
            "chain BACK svg": f"/provenance?ID={last_id}&DEPTH=ALL&RESPONSEFORMAT=SVG",
        }
        print(f"median of {args.repeat} (ms); chain: {args.chain} jobs, DEPTH=ALL")
        for name, query in queries.items():
            assert requests.get(base + query, timeout=60).status_code == 200, query
            print(f"  {name:15} {timed(base, query, args.repeat) * 1000:7.1f}")
        sync = median_ms(
            lambda: requests.get(f"{base}/sync/echo?message=b", timeout=60), args.repeat
        )
        async_ = median_ms(lambda: run_job(base, "b"), args.repeat)
        print(
            f"echo round trip, median of {args.repeat} (ms): sync {sync:.1f} "
            f"(303 and the result), create + WAIT {async_:.1f}"
        )
    cpu = build_cpu_us(args.results, 10 * args.repeat)
    print(f"one document (add_job + PROV-JSON), {args.results} results: {cpu:.0f} us of CPU")


if __name__ == "__main__":
    main()
