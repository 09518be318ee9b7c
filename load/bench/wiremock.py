"""ecomock's deliveryorder.create side by side with a WireMock stub of the same answer, under wrk.

WireMock answers a static stub: the bytes ecomock answered for one real create. ecomock
answers for real: it checks the Qimen md5 signature, parses the XML, reserves stock, stores
the order, writes the history and starts the order's fulfilment. Each request carries a fresh
deliveryOrderCode, pre-generated and signed (wrk's Lua has no md5), and both servers get the
very same requests from the same wrk settings in the same run. A warm-up run, with other
codes, comes first for each server (it gives the JVM its JIT). The servers get CPU 0 and wrk
CPU 1 when the machine has two cores.

Needs Java 17+, wrk (Debian: `apt-get install wrk`) and the npm package `wiremock`, which ships
WireMock's standalone jar: `npm install --prefix .bench-tools wiremock` (git-ignored).

    .venv/bin/python -m load.bench.wiremock --seconds 10 --connections 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from connectors.reference.clients.http import HttpxClient
from connectors.reference.clients.qimen import CREATE_METHOD, PATH, QimenClient
from connectors.reference.mapper import Trade, TradeMapper
from fake_systems.common.server import bind_free_port
from fake_systems.wms import qimen_xml
from load.bench.capacity import DRIVER_CPU, FAKES_CPU, bench_scenario, peer_clients, pin
from simulator.cli import run_async  # uvloop, as `ecomock run` serves the fakes
from simulator.demand import DemandModel
from simulator.runner import LiveFakes, serve_fakes

TOOLS = Path(".bench-tools")
LUA = Path(__file__).with_name("signed_requests.lua")
WIREMOCK_START_SECONDS = 60.0
# Requests per second one server could conceivably answer, times the seconds, with margin:
# a run that goes past the file repeats codes, which the report flags (`wrapped`).
MAX_RATE_PER_SECOND = 6000


def pin_child(cpu: int) -> None:
    """`preexec_fn`: put a child process on `cpu` (see load.bench.capacity.pin)."""
    pin(cpu)


def wiremock_jar() -> Path:
    found = sorted((TOOLS / "node_modules" / "wiremock").glob("**/wiremock-standalone-*.jar"))
    if not found:
        raise SystemExit("WireMock's jar is missing: npm install --prefix .bench-tools wiremock")
    return found[-1]


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    return path


def request_lines(
    qimen: QimenClient, trade: Trade, prefix: str, count: int, waybill: Callable[[str], str]
) -> Iterator[str]:
    """`path?query<TAB>body` per request: fresh code, signed as the connector signs.

    `waybill(code)` gives each order a number the carrier really issued for its owner (the
    WMS refuses any other), as the connector's Kdniao 1007 would.
    """
    mapper = TradeMapper()
    for i in range(count):
        code = f"{prefix}{i:09d}"
        body = mapper.delivery_order_xml(trade, code, waybill(code))
        query = str(httpx.QueryParams(qimen.signed_params(CREATE_METHOD, body)))
        yield f"{PATH}?{query}\t{body}"


def write_requests(path: Path, lines: Iterator[str]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(line + "\n")
            count += 1
    return count


async def run_wrk(
    url: str, requests: Path, seconds: float, connections: int, threads: int
) -> dict[str, Any]:
    """One wrk run; returns the JSON line the Lua `done` hook prints."""
    process = await asyncio.create_subprocess_exec(
        wrk_binary(), "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
        "--timeout", "10s", "-s", str(LUA), url, "--", str(requests), str(threads),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: pin_child(DRIVER_CPU),
    )  # fmt: skip
    out, err = await process.communicate()
    for line in reversed(out.decode().splitlines()):
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            result["per_second"] = result["requests"] / (result["duration_us"] / 1e6)
            return result
    raise RuntimeError(f"wrk printed no result: {out.decode()} {err.decode()}")


async def start_wiremock(workdir: Path, stub_body: bytes, content_type: str) -> tuple[Any, str]:
    """WireMock standalone on a free port, one stub: POST {PATH} -> the captured answer."""
    sock = bind_free_port()
    port = sock.getsockname()[1]
    sock.close()
    log = (workdir / "wiremock.log").open("wb")
    command = ["java", "-jar", str(wiremock_jar()), "--port", str(port), "--disable-banner"]
    # No request journal and no request log: a stub server under load keeps neither.
    command += ["--no-request-journal", "--disable-request-logging"]
    command += ["--root-dir", str(workdir / "wiremock")]
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: pin_child(FAKES_CPU),
    )
    url = f"http://127.0.0.1:{port}"
    mapping = {
        "request": {"method": "POST", "urlPath": PATH},
        "response": {
            "status": 200,
            "body": stub_body.decode(),
            "headers": {"Content-Type": content_type},
        },
    }
    deadline = time.monotonic() + WIREMOCK_START_SECONDS
    async with httpx.AsyncClient() as client:
        while True:
            try:
                answer = await client.post(f"{url}/__admin/mappings", json=mapping)
                answer.raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    raise RuntimeError("WireMock did not start; see wiremock.log") from None
                await asyncio.sleep(0.25)
    return process, url


async def sample_create(
    fakes: LiveFakes,
) -> tuple[QimenClient, Trade, Callable[[str], str], httpx.Response]:
    """One real deliveryorder.create of a paid trade, as the connector would send it.

    Gives what the bench needs to make more of them (the signed client, the trade, a waybill
    issuer) and the fake's answer, which WireMock's stub then serves byte for byte.
    """
    e: dict[str, Any] = fakes.endpoints
    async with httpx.AsyncClient(timeout=30) as http:
        oms, _, qimen, _ = peer_clients(e, [HttpxClient(http)])
        clock = await oms.clock()
        # Windows end before the OMS's now, to the second: look a minute ahead.
        ahead = clock.now + timedelta(minutes=1)
        # The first paid trade, wherever it is listed (Tmall ones only on the Qimen route).
        page = await oms.query_paid(clock.run_start, ahead, 0)
        if not page.trades:
            page = await oms.query_paid_taobao(clock.run_start, ahead, 0)
        trade = page.trades[0]
        carrier = fakes.ecosystem.carrier

        def waybill(code: str) -> str:
            owner = str(trade["owner_code"])
            return carrier.issue_waybill(code, str(trade["logistics_code"]), owner)

        target, body = next(request_lines(qimen, trade, "SAMPLE", 1, waybill)).split("\t")
        answer = await http.post(e["wms"]["url"] + target, content=body.encode())
        if qimen_xml.response_flag(answer.content) != "success":
            raise RuntimeError(f"the sample create failed: {answer.text}")
    return qimen, trade, waybill, answer


async def compare(seconds: float, warmup: float, connections: int, threads: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="ecomock-wiremock-"))
    (workdir / "wiremock").mkdir()
    pin(FAKES_CPU)
    scenario = bench_scenario(orders=10**7, rate_per_minute=1, seconds=3600, seed=7)
    async with serve_fakes(scenario, workdir / "run") as fakes:
        fakes.clock.start()
        model = DemandModel(fakes.world, scenario.demand, 7)
        fakes.ecosystem.oms.create_paid_order(model.next_trade())
        qimen, trade, waybill, answer = await sample_create(fakes)
        e: dict[str, Any] = fakes.endpoints
        count = int(MAX_RATE_PER_SECOND * seconds)
        files = {}
        for name, prefix, n in (("warm", "W", count // 2), ("measure", "M", count)):
            files[name] = workdir / f"{name}.txt"
            write_requests(files[name], request_lines(qimen, trade, prefix, n, waybill))
        wiremock, wiremock_url = await start_wiremock(
            workdir, answer.content, answer.headers.get("content-type", qimen_xml.CONTENT_TYPE)
        )
        results: dict[str, Any] = {}
        try:
            for name, url, pid in (
                ("wiremock", wiremock_url, wiremock.pid),
                ("ecomock", e["wms"]["url"], os.getpid()),
            ):
                await run_wrk(url, files["warm"], warmup, connections, threads)
                cpu_before = cpu_seconds(pid)
                results[name] = await run_wrk(url, files["measure"], seconds, connections, threads)
                results[name]["cpu_seconds"] = cpu_seconds(pid) - cpu_before
                results[name]["wrapped"] = results[name]["requests"] > count
        finally:
            wiremock.terminate()
            wiremock.wait(10)
        stored = fakes.ecosystem.wms.conn.execute(
            "SELECT count(*) FROM delivery_orders WHERE delivery_order_code LIKE 'M%'"
        ).fetchone()[0]
    eco, wm = results["ecomock"], results["wiremock"]
    return {
        "wrk": f"-t{threads} -c{connections} -d{seconds:g}s (after a {warmup:g}s warm-up)",
        "wiremock": _figures(wm),
        "ecomock": {**_figures(eco), "orders_stored": stored},
        "throughput_ratio_ecomock_over_wiremock": round(eco["per_second"] / wm["per_second"], 3),
        "p99_ratio_ecomock_over_wiremock": round(eco["p99_us"] / max(wm["p99_us"], 1), 3),
        "cpu_per_request_ratio_ecomock_over_wiremock": round(
            eco["cpu_seconds"]
            / max(eco["requests"], 1)
            / (wm["cpu_seconds"] / max(wm["requests"], 1)),
            3,
        ),
        "pinned": (os.cpu_count() or 1) >= 2,
        "workdir": str(workdir),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_per_request(result: dict[str, Any]) -> float:
    return float(result["cpu_seconds"]) / max(int(result["requests"]), 1)


def _figures(result: dict[str, Any]) -> dict[str, Any]:
    errors = sum(v for k, v in result.items() if k.startswith("errors_"))
    return {
        "requests": result["requests"],
        "per_second": round(result["per_second"], 1),
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "max_ms": result["max_us"] / 1000,
        "errors": errors,
        # CPU per answer, in the server's process: robust to the machine being shared.
        "cpu_ms_per_request": round(_cpu_per_request(result) * 1000, 3),
        "wrapped": result.get("wrapped", False),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    result = run_async(compare(args.seconds, args.warmup, args.connections, args.threads))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    return 0 if result["ecomock"]["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
