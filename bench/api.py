"""Group api-scale: each API route's latency as the log table grows; and the API latency rows
the stack and pipelines groups print (``bench_api``)."""

import concurrent.futures
import json
import os
import time

import boto3
from botocore.config import Config

from bench.harness import (
    percentile,
    row,
    say,
    timed,
)
from tools import stack
from tools.http import call


def bench_api(outputs, state: str) -> None:
    url = outputs.api_url
    paths = ["/health", "/stats", "/images"] * 167

    def request(path: str) -> tuple[float, int]:
        seconds, reply = timed(call, url, "GET", path)
        return seconds * 1000, reply.status

    endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://localhost:4566")
    baseline = [timed(call, endpoint, "GET", "/_localstack/health")[0] * 1000 for _ in range(100)]
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        # the first burst starts up to 10 execution environments (cold starts): reported
        # on its own, so the 500 measured requests show the warm system
        first_burst = max(ms for ms, _ in pool.map(request, paths[:30]))
        results = list(pool.map(request, paths[:500]))
    latencies = [ms for ms, _ in results]
    errors = sum(status != 200 for _, status in results)
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    row(
        f"API, {state} (500 req., conc. 10)",
        f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, {errors} errors (cold first burst max {first_burst:.0f} ms)",
        f"engine health p50 {percentile(baseline, 0.5):.1f} ms",
        "p99 < 250 ms, 0 errors",
        p99 < 250 and errors == 0,
    )


API_ROUTES = ["/stats", "/images?limit=20", "/logs?limit=20", "/notifications?limit=20", "/dashboard/data"]


# A quarter of the log processor's MAX_LOGS_PER_BATCH: a full batch of 10,000 rows outlasted the
# function's 60 s timeout on a busy machine (seeding is not what the rows measure).
SEED_BATCH = 2_500


def total_logs(url: str) -> int:
    reply = call(url, "GET", "/stats")
    if reply.status != 200:
        raise SystemExit(f"/stats answered {reply.status}: {reply.body}")
    return reply.body["total_logs"]


def seed_logs(lam, outputs, count: int) -> float:
    """`count` more log rows, through the log processor itself (rows, GSI keys, hour
    directory and counters as production writes them); the seconds it took."""
    started = time.perf_counter()
    levels = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]
    while count > 0:
        size = min(count, SEED_BATCH)
        logs = [
            {
                "level": levels[n % len(levels)],
                "message": f"bench scale {n}",
                "service": "bench",
                "user_id": f"u{n % 50}",
            }
            for n in range(size)
        ]
        response = lam.invoke(
            FunctionName=outputs["functions"]["log_processor"], Payload=json.dumps({"logs": logs}).encode()
        )
        payload = response["Payload"].read()
        if "FunctionError" in response:
            raise SystemExit(f"seeding logs failed: {payload[:500]!r}")
        count -= size
    return time.perf_counter() - started


def measure_route(url: str, route: str, requests: int) -> dict:
    """A first burst of 10 concurrent requests (it may start execution environments: its
    slowest is the cold-start figure), then `requests` more at concurrency 10, warm."""

    def one(_: int) -> tuple[float, int]:
        seconds, reply = timed(call, url, "GET", route)
        return seconds * 1000, reply.status

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        burst = list(pool.map(one, range(10)))
        results = list(pool.map(one, range(requests)))
    latencies = [ms for ms, _ in results]
    return {
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "errors": sum(status != 200 for _, status in results),
        "cold_burst_max_ms": max(ms for ms, _ in burst),
        "burst_errors": sum(status != 200 for _, status in burst),
    }


def bench_api_scale(lam, outputs, sizes: list[int], requests: int) -> None:
    """Issues 9 and 23: each route's latency at growing log tables. Targets: the /health floor's
    and each route's p50 at the largest size within 1.1x of the smallest's, /stats p99 < 100 ms
    at the largest, every route's warm p99 < 250 ms at concurrency 10, no errors."""
    url = outputs.api_url
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://localhost:4566")
    baseline = percentile([timed(call, endpoint, "GET", "/_localstack/health")[0] * 1000 for _ in range(50)], 0.5)
    figures: dict[str, dict[int, dict]] = {route: {} for route in API_ROUTES}
    floors: dict[int, dict] = {}
    for size in sizes:
        missing = size - total_logs(url)
        if missing < 0:
            say(f"the stack already holds more than {size:,} logs: figures are for {size - missing:,}")
        seeded = seed_logs(lam, outputs, missing) if missing > 0 else 0.0
        say(f"{size:,} logs (seeded {max(missing, 0):,} in {seeded:.1f} s)")
        # the floor: API Gateway and a warm Lambda answering without any AWS call
        floor = floors[size] = measure_route(url, "/health", requests)
        for route in API_ROUTES:
            got = figures[route][size] = measure_route(url, route, requests)
            target_p99 = 100 if route == "/stats" and size == sizes[-1] else 250
            row(
                f"API {route} at {size:,} logs ({requests} req., conc. 10)",
                f"p50 {got['p50_ms']:.0f} ms, p99 {got['p99_ms']:.0f} ms, {got['errors']} errors "
                f"(cold first burst max {got['cold_burst_max_ms']:.0f} ms)",
                f"GET /health p50 {floor['p50_ms']:.0f} / p99 {floor['p99_ms']:.0f} ms; engine {baseline:.1f} ms",
                f"p99 < {target_p99} ms, 0 errors",
                got["p99_ms"] < target_p99 and got["errors"] == 0,
                route=route,
                logs=size,
                **got,
            )
    if len(sizes) > 1:
        # issue 23: the floor and every route flat in the data held
        for route, by_size in {"/health": floors, **figures}.items():
            ratio = by_size[sizes[-1]]["p50_ms"] / by_size[sizes[0]]["p50_ms"]
            row(
                f"API {route} p50, {sizes[-1]:,} vs {sizes[0]:,} logs",
                f"{ratio:.2f}x",
                f"p50 {by_size[sizes[0]]['p50_ms']:.0f} ms at {sizes[0]:,}",
                "<= 1.1x",
                ratio <= 1.1,
                route=route,
                ratio=ratio,
            )


def check_load_test_limits(outputs) -> None:
    """The stack already deployed must have the load-test limits, or the rows measure 429s."""
    stage = boto3.client("apigateway").get_stage(restApiId=outputs["api_id"], stageName=outputs["api_stage"])
    rate = stage.get("methodSettings", {}).get("*/*", {}).get("throttlingRateLimit", 0)
    wanted = float(stack.LOAD_TEST_VARIABLES["api_throttle_rate_limit"])
    if rate < wanted:
        raise SystemExit(
            f"the bench's stack is throttled at {rate:g} requests/s: deploy it again with the load-test "
            "limits (python bench/run.py --only stack,api-scale; your own stack is not touched)"
        )


def group(context: dict, args) -> None:
    sizes = [int(size) for size in args.api_sizes.split(",")]
    outputs = stack.outputs()
    check_load_test_limits(outputs)
    # a seeding batch (10,000 rows in one invocation) may outlast botocore's 60 s read timeout on
    # a busy machine; not retried, which would seed the batch twice
    seeding = Config(read_timeout=900, retries={"total_max_attempts": 1})
    bench_api_scale(boto3.client("lambda", config=seeding), outputs, sizes, args.api_requests)
