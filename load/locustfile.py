"""Locust plays the platforms: shops push paid orders to the OMS (`sales.RawTrade.pushSelf2`).

    ECOMOCK_SCENARIO=scenarios/double11.yaml ECOMOCK_ENDPOINTS_FILE=runs/up/endpoints.json \\
        .venv/bin/locust -f load/locustfile.py --headless

The orders are the simulator's (same seeded world, same `DemandModel`, see load/orders.py),
each due at its simulated arrival time mapped to the wall (`at / clock.scale` after the test
starts). `ScenarioShape` sets the number of users from the scenario's rate curve; users
claim orders in time order, wait until each is due and push it, together with any further
orders of the same shop already due (up to `--ecomock-batch`). Distributed mode works as
usual (`--master --expect-workers N` and `--worker`): worker i of N takes every N-th order.
Options (each also an environment variable) are in `_options` and docs/LOAD.md.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import gevent
import orjson
from locust import FastHttpUser, LoadTestShape, constant, events, task
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from load.orders import (
    MAX_TRADES_PER_PUSH,
    PUSH_METHOD,
    Feed,
    OmsAccess,
    SimClock,
    push_body,
    users_needed,
    worker_arrivals,
)
from simulator.scenario import Scenario, load_scenario

SPAWN_RATE = 200.0  # users per second: the shape's steps are followed within a tick
END_GRACE_SECONDS = 2.0  # after the last order is due, for the last pushes to be answered
DEFAULT_STOP_TIMEOUT = 30.0  # a user being stopped finishes the push it claimed
RETRIES = 2  # a platform pushes again after a timeout or a server error (idempotent on tid)
RETRY_PAUSE_SECONDS = 0.5
IDLE_SECONDS = 0.2  # a user with nothing left to push looks again after this
RETRYABLE_STATUS = frozenset({99})  # the OMS's 其他错误 (internal error)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Setup:
    scenario: Scenario
    access: OmsAccess
    batch: int
    minimum_users: int


_setup: Setup | None = None
_feed: Feed | None = None
_clock: SimClock | None = None


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("ecomock")
    group.add_argument(
        "--ecomock-scenario",
        env_var="ECOMOCK_SCENARIO",
        default="scenarios/double11.yaml",
        help="scenario file whose world, demand and rate curve to play",
    )
    group.add_argument(
        "--ecomock-endpoints",
        env_var="ECOMOCK_ENDPOINTS_FILE",
        default="runs/up/endpoints.json",
        help="the fakes' endpoints.json (URL and credentials of the OMS)",
    )
    group.add_argument(
        "--ecomock-drill",
        env_var="ECOMOCK_DRILL",
        type=float,
        default=0.0,
        help="scale every rate of the curve (1.5 = a peak drill at 150 %%); 0 keeps the file's",
    )
    group.add_argument(
        "--ecomock-batch",
        env_var="ECOMOCK_LOAD_BATCH",
        type=int,
        default=1,
        help=f"orders of one shop already due pushed in one call (1-{MAX_TRADES_PER_PUSH})",
    )


def _read_setup(environment: Environment) -> Setup:
    global _setup
    if _setup is None:
        options = environment.parsed_options
        assert options is not None, "run through the locust command line"
        scenario = load_scenario(options.ecomock_scenario)
        if options.ecomock_drill:
            scenario = scenario.with_drill(options.ecomock_drill)
        batch = max(1, min(MAX_TRADES_PER_PUSH, int(options.ecomock_batch)))
        workers = int(getattr(options, "expect_workers", 1) or 1)
        access = OmsAccess.from_endpoints(options.ecomock_endpoints)
        # Every worker needs users of its own, or its share of the orders is never sent.
        _setup = Setup(scenario, access, batch, minimum_users=2 * workers)
    return _setup


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return  # a worker learns the options and the host from its master
    setup = _read_setup(environment)
    environment.host = environment.host or setup.access.url
    environment.stop_timeout = environment.stop_timeout or DEFAULT_STOP_TIMEOUT


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: Any) -> None:
    global _feed, _clock
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        return  # the master only shapes; workers push
    setup = _read_setup(environment)
    if isinstance(runner, WorkerRunner):
        index, count = (
            runner.worker_index,
            int(getattr(environment.parsed_options, "expect_workers", 1)),
        )
    else:
        index, count = 0, 1
    if not 0 <= index < count:
        # Its slice would repeat another worker's orders: better to send nothing.
        logger.error("worker index %d beyond --expect-workers %d: sending nothing", index, count)
        return
    arrivals = worker_arrivals(setup.scenario, index, count)
    _clock = SimClock.read(setup.access.url)
    # Time zero of the orders is now, the shape's time zero (give or take the spawn message).
    _feed = Feed(arrivals, setup.scenario.clock.scale, time.monotonic())


def _verdict(response: Any) -> tuple[bool, bool, str]:
    """(accepted, worth retrying, why not) for one answer of the OMS."""
    if response.status_code != 200:
        return (
            False,
            response.status_code == 0 or response.status_code >= 500,
            (f"HTTP {response.status_code}"),
        )
    try:
        answer = orjson.loads(response.content or b"")
    except orjson.JSONDecodeError:
        return False, True, "answer is not JSON"
    status = answer.get("status") if isinstance(answer, dict) else None
    if status == 0:
        # pushSelf2 refuses trades one by one in `error_list`, with status 0: a push that
        # lost some is not accepted, and the same trades would be refused again.
        data = answer.get("data")
        errors = data.get("error_list") if isinstance(data, dict) else None
        if errors:
            return False, False, f"error_list: {str(errors)[:200]}"
        return True, False, ""
    reason = answer.get("message") if isinstance(answer, dict) else answer
    return False, status in RETRYABLE_STATUS, f"status {status}: {reason}"


class Platform(FastHttpUser):
    """A platform's order gateway pushing its shops' paid orders to the OMS."""

    wait_time = constant(0)  # pacing comes from the orders' due times

    @task
    def push(self) -> None:
        feed, clock, setup = _feed, _clock, _setup
        if feed is None or clock is None or setup is None:
            gevent.sleep(IDLE_SECONDS)
            return
        first = feed.claim()
        if first is None:
            gevent.sleep(IDLE_SECONDS)
            return
        delay = feed.due_at(first) - time.monotonic()
        if delay > 0:
            gevent.sleep(delay)
        batch = [first, *feed.also_due(first, time.monotonic(), setup.batch)]
        body = push_body([arrival.trade for arrival in batch], clock.text())
        for attempt in range(RETRIES + 1):
            if attempt:
                gevent.sleep(RETRY_PAUSE_SECONDS)
            query = setup.access.signed_query(PUSH_METHOD, body)  # a fresh timestamp each try
            with self.client.post(
                f"/openapi?{query}",
                data=body.encode(),  # type: ignore[arg-type]  # bytes are sent as they are
                headers={"Content-Type": "application/json; charset=utf-8"},
                name=PUSH_METHOD,
                catch_response=True,
            ) as response:
                accepted, retry, why = _verdict(response)
                if accepted:
                    response.success()
                    return
                response.failure(why)
            if not retry:
                return


class ScenarioShape(LoadTestShape):
    """Users follow the scenario's rate curve; the test ends when its last order is due."""

    def tick(self) -> tuple[int, float] | None:
        setup = _setup
        if setup is None:
            return None
        run_time = self.get_run_time()
        if run_time > setup.scenario.wall_duration_seconds + END_GRACE_SECONDS:
            return None
        return users_needed(setup.scenario, run_time, setup.minimum_users), SPAWN_RATE
