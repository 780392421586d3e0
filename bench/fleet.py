"""Fleet bench: ``doctor`` against a raw botocore parallel Scan of the same dynalite table.

``python -m bench.fleet [--sizes 10000,100000] [--concurrency 1,4] [--repeats 3]
[--out bench/results/fleet.md]``. The table is loaded with BatchWriteItem (a mix of every
category), grown from one size to the next. At each size and scan concurrency K, ``doctor
--json --scan-concurrency K`` and the raw scan (K threads, segment i of K each, botocore's
default 1 MB pages, items counted and dropped) run as fresh processes, interleaved; each one's
wall time and peak RSS (its own ``VmHWM``, see ``peak_rss.py``) are recorded, medians
reported. Targets: doctor at most 1.3x the raw scan's wall time; doctor's peak RSS at the
largest size at most 1.2x the smallest.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from statistics import median
from typing import Any

from tests.support.fake_aws import use_fake_aws_environment

use_fake_aws_environment()

TABLE = "fleet_sessions"
PEAK_RSS = Path(__file__).with_name("peak_rss.py")
WALL_TARGET = 1.3
RSS_TARGET = 1.2
_NOW = datetime.now(timezone.utc)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def bench_item(n: int) -> dict[str, Any]:
    """Session ``n`` as the Node adapter writes it; every category of ``doctor`` appears."""
    shop = f"shop{n}.bench.myshopify.com"
    kind = n % 20
    item: dict[str, Any] = {
        "id": {"S": f"offline_{shop}"},
        "shop": {"S": shop},
        "state": {"S": ""},
        "isOnline": {"BOOL": False},
        "scope": {"S": "write_products,read_orders,write_customers"},
        "accessToken": {"S": f"shpat_{n:032d}"},
    }
    if kind < 2:  # online
        item["id"] = {"S": f"{shop}_{n}"}
        item["isOnline"] = {"BOOL": True}
        item["expires"] = {"S": _iso(_NOW + timedelta(hours=(1 if kind else -1)))}
        return item
    if kind < 4:  # non-expiring, as before Shopify's change
        return item
    item["refreshToken"] = {"S": f"shprt_{n:032d}"}
    refresh_days = 5 if kind == 4 else 80  # refresh_due
    item["refreshTokenExpires"] = {"S": _iso(_NOW + timedelta(days=refresh_days))}
    if kind != 5:  # missing_expiry (shopify-app-js#3400)
        item["expires"] = {"S": _iso(_NOW + timedelta(hours=1))}
    return item


def _client(endpoint: str) -> Any:
    import boto3

    return boto3.session.Session().client(
        "dynamodb", region_name="us-east-1", endpoint_url=endpoint
    )


def load(endpoint: str, start: int, stop: int, threads: int = 4) -> float:
    """Items ``start``..``stop`` by BatchWriteItem (25 a request, unprocessed ones resent)."""
    client = _client(endpoint)
    began = time.monotonic()

    def write(first: int) -> None:
        requests = [
            {"PutRequest": {"Item": bench_item(n)}} for n in range(first, min(first + 25, stop))
        ]
        while requests:
            answer = client.batch_write_item(RequestItems={TABLE: requests})
            requests = answer.get("UnprocessedItems", {}).get(TABLE, [])

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(write, range(start, stop, 25)))
    return time.monotonic() - began


def raw_scan(endpoint: str, table: str, concurrency: int) -> int:
    """The floor: botocore's parallel Scan, ``concurrency`` threads, items counted."""
    import botocore.session

    client = botocore.session.get_session().create_client(
        "dynamodb", region_name="us-east-1", endpoint_url=endpoint
    )
    counts = [0] * concurrency

    def segment(index: int) -> None:
        request: dict[str, Any] = {
            "TableName": table,
            "Segment": index,
            "TotalSegments": concurrency,
        }
        while True:
            page = client.scan(**request)
            counts[index] += len(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    threads = [threading.Thread(target=segment, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts)


def measure(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB, the program's own: see ``peak_rss.py``) and stdout of one
    fresh process."""
    with tempfile.NamedTemporaryFile("r", suffix=".kb") as peak:
        began = time.monotonic()
        process = subprocess.run(
            [sys.executable, str(PEAK_RSS), peak.name, *command], capture_output=True, check=False
        )
        wall = time.monotonic() - began
        if process.returncode not in (0, 1):  # doctor exits 1 when it finds problems
            raise RuntimeError(
                f"{command} failed ({process.returncode}): {process.stderr[-2000:]!r}"
            )
        return wall, int(peak.read() or 0) / 1024, process.stdout.decode()


def _doctor(endpoint: str, concurrency: int) -> list[str]:
    return [
        "-m", "shopify_sessions.cli", "--endpoint-url", endpoint,
        "--table", TABLE, "doctor", "--json", "--scan-concurrency", str(concurrency),
    ]  # fmt: skip


def _raw(endpoint: str, concurrency: int) -> list[str]:
    return [str(Path(__file__)), "--raw-scan", endpoint, str(concurrency)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--concurrency", default="1,4")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/fleet.md"))
    parser.add_argument("--raw-scan", nargs=2, metavar=("ENDPOINT", "K"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.raw_scan:  # the child process of the floor
        print(raw_scan(args.raw_scan[0], TABLE, int(args.raw_scan[1])))
        return 0
    sizes = [int(part) for part in args.sizes.split(",")]
    levels = [int(part) for part in args.concurrency.split(",")]
    from shopify_sessions import DynamoDBSessionStorage
    from tests.support.dynalite import run_dynalite

    rows: list[dict[str, Any]] = []
    with run_dynalite() as endpoint:
        DynamoDBSessionStorage(TABLE, host=endpoint).create_table()
        loaded = 0
        for size in sizes:
            seconds = load(endpoint, loaded, size)
            print(f"loaded {size - loaded} items in {seconds:.0f} s", file=sys.stderr)
            loaded = size
            for k in levels:
                samples: dict[str, list[tuple[float, float]]] = {"doctor": [], "raw": []}
                for _ in range(args.repeats):
                    wall, rss, out = measure(_doctor(endpoint, k))
                    total = json.loads(out)["total"]
                    assert total == size, (total, size)
                    samples["doctor"].append((wall, rss))
                    wall, rss, out = measure(_raw(endpoint, k))
                    assert int(out) == size, (out, size)
                    samples["raw"].append((wall, rss))
                row = {
                    "sessions": size,
                    "k": k,
                    **{
                        f"{side}_{what}": median(sample[i] for sample in samples[side])
                        for side in samples
                        for i, what in enumerate(("s", "mb"))
                    },
                }
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
    text = report(rows, sizes, argv if argv is not None else sys.argv[1:], args.repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    print(text)
    return 0


def report(rows: list[dict[str, Any]], sizes: list[int], argv: list[str], repeats: int) -> str:
    small, large = min(sizes), max(sizes)
    lines = [
        "# Fleet bench: doctor against a raw botocore parallel Scan, on dynalite",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} · {os.cpu_count()} CPUs · Python "
        f"{platform.python_version()} · `python -m bench.fleet {' '.join(argv)}` · median of "
        f"{repeats} fresh processes each (wall time includes start-up and imports)",
        "",
        "| sessions | K | doctor s | raw scan s | ratio (target <= 1.3) | doctor peak MB "
        "| raw peak MB |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        ratio = row["doctor_s"] / row["raw_s"]
        lines.append(
            f"| {row['sessions']:,} | {row['k']} | {row['doctor_s']:.1f} | {row['raw_s']:.1f} | "
            f"{ratio:.2f} | {row['doctor_mb']:.0f} | {row['raw_mb']:.0f} |"
        )
    lines += [
        "",
        f"| K | doctor peak RSS {large:,} / {small:,} (target <= 1.2) |",
        "| ---: | ---: |",
    ]
    for k in sorted({row["k"] for row in rows}):
        by_size = {row["sessions"]: row["doctor_mb"] for row in rows if row["k"] == k}
        if small in by_size and large in by_size:
            lines.append(f"| {k} | {by_size[large] / by_size[small]:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
