"""Harness capacity: the five fakes alone, driven by a client doing the connector's calls.

Two processes. `serve` (a child) runs the five fakes exactly as `ecomock run` does
(`simulator.runner.serve_fakes`: one asyncio loop, five uvicorn servers, the SimPy clock) and
places the paid orders in the OMS. The driver (this process) plays a connector that does
nothing but the calls, as fast as it can: OMS trade query, Kdniao 1007 then 1008 with Qimen
deliveryorder.create, and on the WMS's deliveryorder.confirm push, OMS logistics sync and the
two K3 bills (ExecuteBillQuery, Save, Submit, Audit each). A lifecycle is complete when both
bills are audited. On a machine with two or more cores the fakes are pinned to CPU 0 and the
driver to CPU 1 (`os.sched_setaffinity`), so the fakes have one core and the figures are
the fakes' (the report gives each process's CPU use: fakes near 100 % means they are the
bottleneck, not the driver).

Modes: `--orders N` places N orders at once and measures lifecycles per minute; `--rate R`
places R orders per minute for `--seconds` and measures the fakes' latency at that load, the
driver starting each order's calls as a Poisson process at that rate (not in the bursts its
polls find them in). `--trace-memory` names the source lines holding the fakes' memory.

    .venv/bin/python -m load.bench.capacity --orders 20000
    .venv/bin/python -m load.bench.capacity --rate 1000 --seconds 60
    .venv/bin/python -m load.bench.capacity --orders 10000 --trace-memory
"""

from __future__ import annotations

import _sqlite3
import argparse
import asyncio
import ctypes
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from connectors.reference.clients.http import (
    REQUEST_TIMEOUT_SECONDS,
    AiohttpClient,
    HttpClient,
    Reply,
    Request,
)
from connectors.reference.clients.k3 import K3Client
from connectors.reference.clients.kdniao import KdniaoClient
from connectors.reference.clients.oms import PAGE_SIZE, OmsClient, QimenApp
from connectors.reference.clients.qimen import QimenClient
from connectors.reference.mapper import Trade, TradeMapper
from contract_tests.files import write_atomically
from fake_systems.common.server import ServerGroup
from fake_systems.wms import qimen_xml
from simulator.cli import run_async  # uvloop, as `ecomock run` serves the fakes
from simulator.demand import DemandModel, play_demand
from simulator.runner import serve_fakes
from simulator.scenario import Scenario

FAKES_CPU, DRIVER_CPU = 0, 1
READY_TIMEOUT_SECONDS = 300.0
MAX_WINDOW = timedelta(minutes=60)  # the OMS refuses longer query windows
POLL_EVERY_SECONDS = 0.2
# Connections per peer. The fakes answer one request at a time anyway; a few in flight per
# peer keep them busy without queueing so deep that latency measures only the queue.
CONNECTIONS_PER_PEER = 16
# Lifecycles allowed in their outbound part at once (bounded like the reference connector).
OUTBOUND_IN_FLIGHT = 48
SHIPMENT_IN_FLIGHT = 48
HOT_ENDPOINTS = ("deliveryorder.create", "TradeQuery", "1007", "k3.Save")


def bench_scenario(orders: int, rate_per_minute: float, seconds: float, seed: int) -> Scenario:
    """The world the fakes serve: real time, a warehouse that ships in a fraction of a second.

    Fulfilment is nearly instant and the crews large, so the lifecycle rate measures the
    fakes' request handling, not the simulated warehouse's capacity.
    """
    stock = max(10_000, orders * 10)
    return Scenario.model_validate(
        {
            "name": "capacity",
            "seed": seed,
            "duration": max(seconds, 1.0),
            "clock": {"scale": 1.0},
            "world": {
                "skus": 200,
                "customers": 2000,
                "warehouses": 2,
                "stock_per_sku": stock,
                "pickers": 10_000,
                "packers": 10_000,
            },
            "demand": {"orders_per_hour": max(rate_per_minute, 1.0) * 60.0},
            "fulfilment": {
                "accept_seconds": {"low": 0.01, "high": 0.05},
                "pick_seconds": {"low": 0.01, "high": 0.05},
                "pack_seconds": {"low": 0.01, "high": 0.05},
            },
        }
    )


def pin(cpu: int) -> bool:
    """Keep this process on one CPU when the machine has another for the other side."""
    if (os.cpu_count() or 1) < 2 or not hasattr(os, "sched_setaffinity"):
        return False
    os.sched_setaffinity(0, {cpu})
    return True


def usage() -> dict[str, float]:
    """CPU seconds and peak resident memory (MiB) of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_seconds": ru.ru_utime + ru.ru_stime, "max_rss_mib": ru.ru_maxrss / 1024.0}


# ---------------------------------------------------------------------------- the fakes


def sqlite_memory_mib() -> dict[str, float]:
    """SQLite's own heap (page caches, statements), which tracemalloc does not see."""
    library = ctypes.CDLL(_sqlite3.__file__)  # dlsym searches the libsqlite3 it links
    used, highwater = library.sqlite3_memory_used, library.sqlite3_memory_highwater
    used.restype = highwater.restype = ctypes.c_int64
    highwater.argtypes = [ctypes.c_int]
    return {"current": used() / 2**20, "peak": highwater(0) / 2**20}


def memory_holders(snapshot: tracemalloc.Snapshot, top: int = 12) -> list[dict[str, Any]]:
    """The source lines whose allocations are still alive, largest first (MiB, blocks)."""
    result = []
    for stat in snapshot.statistics("lineno")[:top]:
        frame = stat.traceback[0]
        name = frame.filename
        for root in (os.getcwd(), *sys.path[1:]):  # shorter without the install prefixes
            if root and name.startswith(root):
                name = name[len(root) :].lstrip("/")
                break
        where = f"{name}:{frame.lineno}"
        result.append({"line": where, "mib": round(stat.size / 2**20, 2), "blocks": stat.count})
    return result


async def watch_peak(at_peak: dict[str, Any], every_seconds: float = 0.5) -> None:
    """Keep in `at_peak` the holders at the highest traced memory seen so far.

    Memory a run needs only for a while (queues, requests in flight) is gone by its end;
    the peak is what sets the process's resident size. Sampled: a new snapshot is taken
    only when the traced memory has grown a tenth past the last one's.
    """
    highest = 0
    while True:  # cancelled when the fakes stop
        current = tracemalloc.get_traced_memory()[0]
        if current > highest * 1.1:
            highest = current
            at_peak["traced_mib"] = round(current / 2**20, 1)
            at_peak["holders"] = memory_holders(tracemalloc.take_snapshot())
        await asyncio.sleep(every_seconds)


async def serve(
    run_dir: Path,
    callback_url: str,
    orders: int,
    rate: float,
    seconds: float,
    seed: int,
    trace_memory: bool = False,
) -> None:
    """Serve the fakes, place the orders, write `ready.json`; stop when stdin closes.

    `trace_memory` runs tracemalloc from the start and writes, at the end, which source files
    hold the memory still alive (tracemalloc slows the fakes: a memory run, not a speed run).
    """
    if trace_memory:
        tracemalloc.start()
    scenario = bench_scenario(orders, rate, seconds, seed)
    async with serve_fakes(scenario, run_dir) as fakes:
        eco = fakes.ecosystem
        eco.point_pushes_at(callback_url, None)
        fakes.clock.start()
        model = DemandModel(fakes.world, scenario.demand, seed)
        started = time.perf_counter()
        if rate:
            play_demand(fakes.clock.env, model, scenario.duration, eco.oms.create_paid_order)
        else:
            for _ in range(orders):
                eco.oms.create_paid_order(model.next_trade())
        ready = {
            "endpoints": fakes.endpoints,
            "placing_seconds": time.perf_counter() - started,
            **usage(),
        }
        # Atomically: the driver polls for the file and reads it as soon as it exists.
        write_atomically(run_dir / "ready.json", orjson.dumps(ready))
        at_peak: dict[str, Any] = {}
        watcher = asyncio.create_task(watch_peak(at_peak)) if trace_memory else None
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        if watcher:
            watcher.cancel()
        stats: dict[str, Any] = {
            **usage(),
            "pushes_in_flight": eco.pushes_in_flight,
            "sqlite_mib": sqlite_memory_mib(),
        }
        if trace_memory:
            # Taken while the fakes still hold their state: what a long run keeps alive.
            current, peak = tracemalloc.get_traced_memory()
            stats["traced_mib"] = {"current": current / 2**20, "peak": peak / 2**20}
            stats["memory_holders"] = memory_holders(tracemalloc.take_snapshot())
            stats["memory_at_peak"] = at_peak
    (run_dir / "stats.json").write_bytes(orjson.dumps(stats))


# ---------------------------------------------------------------------------- the driver


class Timings:
    """Latency of every call by endpoint, measured around the whole exchange, body included."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)

    def summary(self, wall_seconds: float) -> dict[str, dict[str, float]]:
        result = {}
        for label, values in sorted(self.samples.items()):
            ordered = sorted(values)
            result[label] = {
                "count": len(ordered),
                "per_second": len(ordered) / wall_seconds if wall_seconds else 0.0,
                "p50_ms": percentile(ordered, 0.50) * 1000,
                "p99_ms": percentile(ordered, 0.99) * 1000,
                "max_ms": ordered[-1] * 1000,
            }
        return result

    def all_p99_ms(self) -> float:
        merged = sorted(v for values in self.samples.values() for v in values)
        return percentile(merged, 0.99) * 1000 if merged else 0.0


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


def endpoint_label(request: Request) -> str:
    """`deliveryorder.create`, `TradeQuery`, `1007`, `k3.Save`…: which call a request is."""
    path = urlsplit(request.url).path
    method = (request.params or {}).get("method")
    if method:  # OMS `sales.TradeQuery.queryWithDetail` (TradeQuery), `ecomock.Trade.ship`
        # (Trade); Qimen `taobao.qimen.deliveryorder.x`
        parts = method.split(".")
        return ".".join(parts[-2:]) if method.startswith("taobao.") else parts[1]
    if path.endswith(".common.kdsvc"):
        return "k3." + path.rsplit(".", 3)[-3]
    return {"/api/EOrderService": "1007", "/api/dist": "1008"}.get(path, path)


class TimedClient(AiohttpClient):
    """The reference connector's HTTP client, timing each exchange until its body is read."""

    def __init__(self, timings: Timings, max_connections: int) -> None:
        super().__init__(max_connections)
        self.timings = timings

    async def send(self, request: Request, timeout: float = REQUEST_TIMEOUT_SECONDS) -> Reply:
        started = time.perf_counter()
        reply = await super().send(request, timeout)
        self.timings.samples[endpoint_label(request)].append(time.perf_counter() - started)
        return reply


def peer_clients(
    endpoints: dict[str, Any], http: list[HttpClient]
) -> tuple[OmsClient, KdniaoClient, QimenClient, K3Client]:
    """The reference connector's four protocol clients, on `endpoints.json`'s credentials."""
    oms, carrier, wms, erp = (endpoints[name] for name in ("oms", "carrier", "wms", "erp"))
    return (
        OmsClient(
            http[0],
            oms["url"],
            oms["sid"],
            oms["app_key"],
            oms["app_secret"],
            QimenApp(oms["qimen_app_key"], oms["qimen_secret"], oms["qimen_target_app_key"]),
        ),
        KdniaoClient(http[1 % len(http)], carrier["url"], carrier["ebusiness_id"],
                     carrier["api_key"]),
        QimenClient(http[2 % len(http)], wms["url"], wms["app_key"], wms["secret"],
                    wms["customer_id"]),
        K3Client(http[3 % len(http)], erp["url"], erp["acct_id"], erp["username"],
                 erp["app_id"], erp["app_secret"], int(erp["lcid"])),
    )  # fmt: skip


class PoissonStarts:
    """When each new trade's calls begin, so that they arrive as a Poisson process.

    A poll finds every trade paid since the last one at once; starting them all together
    would measure the burst's queue, not the fakes. Each trade instead starts an exponential
    gap after the previous one, at the orders' own rate (per second).
    """

    def __init__(self, rate_per_second: float, seed: int) -> None:
        self.rate = rate_per_second
        self.random = random.Random(seed)
        self.next_start = 0.0

    def delay(self, now: float) -> float:
        """Seconds from `now` until the next trade's calls should start."""
        self.next_start = max(self.next_start, now) + self.random.expovariate(self.rate)
        return self.next_start - now


@dataclass
class Driver:
    """Does a connector's calls for every paid trade, without a connector's durability."""

    endpoints: dict[str, Any]
    timings: Timings = field(default_factory=Timings)
    mapper: TradeMapper = field(default_factory=TradeMapper)
    done: int = 0
    errors: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    trades: dict[str, Trade] = field(default_factory=dict)
    waybills: dict[str, str] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    starts: PoissonStarts | None = None  # None: each trade's calls start when a poll finds it

    def __post_init__(self) -> None:
        self.http: list[HttpClient] = [
            TimedClient(self.timings, CONNECTIONS_PER_PEER) for _ in range(4)
        ]
        self.oms, self.carrier, self.wms, self.erp = peer_clients(self.endpoints, self.http)
        self.outbound_slots = asyncio.Semaphore(OUTBOUND_IN_FLIGHT)
        self.shipment_slots = asyncio.Semaphore(SHIPMENT_IN_FLIGHT)
        self.cursor: Any = None

    async def close(self) -> None:
        for client in self.http:
            await client.aclose()

    def spawn(self, make: Callable[[], Awaitable[None]], what: str) -> None:
        async def guarded() -> None:
            try:
                await make()
            except Exception as exc:  # a bench counts failures; it does not retry
                self.errors.append(f"{what}: {type(exc).__name__}: {exc}")

        task = asyncio.get_running_loop().create_task(guarded())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def poll(self) -> int:
        """Read the paid trades up to the OMS's now, window by window, page by page."""
        clock = await self.oms.clock()
        start = self.cursor - timedelta(seconds=2) if self.cursor else clock.run_start
        new = 0
        while start < clock.now:
            end = min(start + MAX_WINDOW, clock.now)
            # /openapi never returns Taobao/Tmall trades: those come by the Qimen custom route.
            for query in (self.oms.query_paid, self.oms.query_paid_taobao):
                page_no = 0
                while True:
                    page = await query(start, end, page_no)
                    for trade in page.trades:
                        new += self.accept(trade)
                    page_no += 1
                    if not page.trades or page_no * PAGE_SIZE >= page.total_count:
                        break
            start = end
        self.cursor = clock.now
        return new

    def accept(self, trade: Trade) -> int:
        trade_no = str(trade["trade_no"])
        if trade_no in self.seen:
            return 0
        self.seen.add(trade_no)
        self.trades[trade_no] = trade
        delay = self.starts.delay(asyncio.get_running_loop().time()) if self.starts else 0.0
        self.spawn(lambda: self.outbound(trade, delay), f"outbound {trade_no}")
        return 1

    async def outbound(self, trade: Trade, delay: float = 0.0) -> None:
        trade_no = str(trade["trade_no"])
        if delay:
            await asyncio.sleep(delay)  # the arrival schedule, not a wait for something
        async with self.outbound_slots:
            waybill = await self.carrier.create_waybill(self.mapper.waybill_request(trade))
            self.waybills[trade_no] = waybill
            xml = self.mapper.delivery_order_xml(trade, trade_no, waybill)
            await asyncio.gather(
                self.carrier.subscribe(self.mapper.subscribe_request(trade, waybill)),
                self.wms.create_delivery_order(xml),
            )

    def confirmed(self, trade_no: str, confirm_time: str | None) -> None:
        """The WMS shipped `trade_no`: start its shipment calls."""
        trade = self.trades.get(trade_no)
        if trade is None:
            self.errors.append(f"confirm for unknown {trade_no}")
            return
        self.spawn(lambda: self.shipment(trade, confirm_time), f"shipment {trade_no}")

    async def shipment(self, trade: Trade, confirm_time: str | None) -> None:
        trade_no = str(trade["trade_no"])
        bill_date = confirm_time or str(trade.get("pay_time") or "")
        async with self.shipment_slots:
            await asyncio.gather(
                self.oms.mark_shipped(
                    trade_no, str(trade["logistics_code"]), self.waybills[trade_no]
                ),
                self.erp.post_audited("SAL_OUTSTOCK", self.mapper.outstock_model(trade, bill_date)),
                self.erp.post_audited(
                    "AR_receivable", self.mapper.receivable_model(trade, bill_date)
                ),
            )
        self.done += 1

    def callback_app(self) -> Any:
        """The ASGI app that receives the WMS's deliveryorder.confirm pushes."""
        success = qimen_xml.response("success", "0", "ok").encode()

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            root = qimen_xml.parse_request(b"".join(chunks))
            code = qimen_xml.text(root, "deliveryOrder/deliveryOrderCode")
            if code:
                self.confirmed(code, qimen_xml.text(root, "deliveryOrder/orderConfirmTime"))
            headers = [(b"content-type", qimen_xml.CONTENT_TYPE.encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": success})

        return app


@dataclass
class CapacityResult:
    """What one capacity run measured; `figures()` is what the bench prints."""

    mode: str
    orders: int
    lifecycles: int
    wall_seconds: float
    endpoints: dict[str, dict[str, float]]
    all_p99_ms: float
    errors: list[str]
    fakes: dict[str, float]
    driver: dict[str, float]
    pinned: bool
    run_dir: str

    @property
    def lifecycles_per_minute(self) -> float:
        return self.lifecycles / self.wall_seconds * 60 if self.wall_seconds else 0.0

    def figures(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "orders": self.orders,
            "lifecycles": self.lifecycles,
            "wall_seconds": round(self.wall_seconds, 2),
            "lifecycles_per_minute": round(self.lifecycles_per_minute),
            "fake_latency_p99_ms_all_calls": round(self.all_p99_ms, 2),
            "hot_endpoints": {
                k: {m: round(v, 2) for m, v in self.endpoints[k].items()}
                for k in HOT_ENDPOINTS
                if k in self.endpoints
            },
            "fakes_cpu_share": round(self.fakes["cpu_seconds"] / self.wall_seconds, 2)
            if self.wall_seconds
            else 0.0,
            # CPU the fakes spent per lifecycle: the figure least disturbed by a shared machine.
            "fakes_cpu_ms_per_lifecycle": round(
                self.fakes["cpu_seconds"] * 1000 / max(self.lifecycles, 1), 2
            ),
            "fakes_peak_rss_mib": round(self.fakes.get("max_rss_mib", 0.0), 1),
            "fakes_sqlite_mib": self.fakes.get("sqlite_mib"),
            **{
                k: self.fakes[k]
                for k in ("traced_mib", "memory_holders", "memory_at_peak")
                if k in self.fakes
            },
            "driver_cpu_share": round(self.driver["cpu_seconds"] / self.wall_seconds, 2)
            if self.wall_seconds
            else 0.0,
            "errors": len(self.errors),
            "first_errors": self.errors[:3],
            "pinned": self.pinned,
        }


async def drive(
    run_dir: Path,
    orders: int,
    rate: float = 0.0,
    seconds: float = 60.0,
    seed: int = 7,
    profile: Path | None = None,
    pin_cpus: bool = True,
    trace_memory: bool = False,
) -> CapacityResult:
    """Start the fakes in a child process and drive them; see the module docstring.

    `pin_cpus=False` leaves both processes where the OS puts them (the test suite's smoke).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    pinned = pin(DRIVER_CPU) if pin_cpus else False
    callback = ServerGroup()
    holder: dict[str, Any] = {}  # the driver's callback app, once the fakes are up

    async def route(scope: Any, receive: Any, send: Any) -> None:
        await holder["app"](scope, receive, send)

    await callback.start({"callback": route})
    # py-spy samples the fakes from their start when asked (`--profile`, collapsed stacks).
    spy = [str(Path(sys.executable).with_name("py-spy")), "record", "-r", "200", "-f", "raw"]
    prefix = [*spy, "-o", str(profile), "--"] if profile else []
    serve_args = [
        *("serve", "--run-dir", str(run_dir), "--orders", str(orders), "--rate", str(rate)),
        *("--callback", callback.urls["callback"] + "/qimen/callback"),
        *("--seconds", str(seconds), "--seed", str(seed), "--pin" if pin_cpus else "--no-pin"),
        *(["--trace-memory"] if trace_memory else []),
    ]
    child = subprocess.Popen(
        [*prefix, sys.executable, "-m", "load.bench.capacity", *serve_args],
        stdin=subprocess.PIPE,
    )
    try:
        ready = await wait_ready(run_dir / "ready.json", child)
        starts = PoissonStarts(rate / 60.0, seed) if rate else None
        driver = Driver(ready["endpoints"], starts=starts)
        holder["app"] = driver.callback_app()
        fakes_cpu_before = ready["cpu_seconds"]
        driver_cpu_before = usage()["cpu_seconds"]
        started = time.perf_counter()
        if rate:
            ends = started + seconds
            while time.perf_counter() < ends:
                await driver.poll()
                await asyncio.sleep(POLL_EVERY_SECONDS)
            await asyncio.sleep(1.0)  # the last orders' fulfilment
            await driver.poll()
        else:
            # Query windows end at the OMS's now, to the second: poll until all are seen.
            while len(driver.seen) < orders and time.perf_counter() - started < 60:
                if not await driver.poll():
                    # Paging while trades change status can skip a few (the OMS pages a live
                    # result, as 旺店通 does): read the whole run again rather than wait.
                    driver.cursor = None
                    await asyncio.sleep(POLL_EVERY_SECONDS)
        expected = len(driver.seen)
        while driver.done + len(driver.errors) < expected and (
            driver.tasks or time.perf_counter() - started < READY_TIMEOUT_SECONDS
        ):
            await asyncio.sleep(0.02)
        wall = time.perf_counter() - started
        driver_usage = usage()
        driver_usage["cpu_seconds"] -= driver_cpu_before
        await driver.close()
    finally:
        if child.stdin:
            child.stdin.close()
        await asyncio.get_running_loop().run_in_executor(None, child.wait)
        await callback.stop()
    fakes = orjson.loads((run_dir / "stats.json").read_bytes())
    fakes["cpu_seconds"] -= fakes_cpu_before
    return CapacityResult(
        mode=f"rate {rate:g}/min for {seconds:g}s" if rate else "as fast as possible",
        orders=expected,
        lifecycles=driver.done,
        wall_seconds=wall,
        endpoints=driver.timings.summary(wall),
        all_p99_ms=driver.timings.all_p99_ms(),
        errors=driver.errors,
        fakes=fakes,
        driver=driver_usage,
        pinned=pinned,
        run_dir=str(run_dir),
    )


async def wait_ready(path: Path, child: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not path.exists():
        if child.poll() is not None:
            raise RuntimeError(f"the fakes exited with {child.returncode} before they were ready")
        if time.monotonic() > deadline:
            raise TimeoutError("the fakes did not get ready in time")
        await asyncio.sleep(0.05)
    result: dict[str, Any] = orjson.loads(path.read_bytes())
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("role", nargs="?", default="drive", choices=["drive", "serve"])
    parser.add_argument("--orders", type=int, default=20_000, help="orders placed at once")
    parser.add_argument("--rate", type=float, default=0.0, help="orders/min instead of --orders")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long --rate lasts")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--run-dir", type=Path, default=None)
    parser.add_argument("--callback", default="")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy collapsed stacks here")
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--trace-memory", action="store_true", help="name what holds the fakes' memory (slow)"
    )
    args = parser.parse_args(argv)
    if args.role == "serve":
        if args.pin:
            pin(FAKES_CPU)
        run_async(
            serve(
                args.run_dir,
                args.callback,
                args.orders,
                args.rate,
                args.seconds,
                args.seed,
                args.trace_memory,
            )
        )
        return 0
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="ecomock-capacity-"))
    result = run_async(
        drive(
            run_dir,
            args.orders,
            args.rate,
            args.seconds,
            args.seed,
            args.profile,
            args.pin,
            args.trace_memory,
        )
    )
    print(json.dumps(result.figures(), indent=2, ensure_ascii=False))
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
