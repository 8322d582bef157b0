"""The limits every figure is a ratio to, measured in the same run on the same emulator.

* :func:`raw_client_rate` — *the* limit: what the send path can do with no database and
  no queue. The same provider module builds and signs each request and parses each answer
  (``Provider.send``), through the same ``httpx.Client`` settings, thread pool size and
  token bucket as ``campaigns.sending.loop`` uses for an account of that concurrency.
* :func:`emulator_capacity` — what the emulator can answer: requests built and signed in
  advance, written as raw bytes by an asyncio client over many kept-alive connections
  (no httpx, no signing while measuring), so the client costs next to nothing and the
  figure is the emulator's. When it is well above the raw client's rate, the emulator is
  not what limits the benchmark.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from providers.base import Batch, Message, Provider


@dataclass
class Rate:
    requests: int
    seconds: float
    outcomes: dict[str, int] = field(default_factory=dict)
    # CPU seconds the measuring process used meanwhile (every thread); 0 where not measured.
    cpu_seconds: float = 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_seconds / self.requests if self.requests else 0.0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def raw_client_rate(
    provider: Provider,
    message: Message,
    batches: Sequence[Batch],
    *,
    concurrency: int,
    rate_limit: float,
    timeout: float,
    warmup: Sequence[Batch] = (),
) -> Rate:
    """Send ``batches`` as the engine would, minus database and queue; return the rate."""
    from campaigns.sending.ratelimit import TokenBucket

    bucket = TokenBucket(rate_limit, burst=min(rate_limit, concurrency))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    outcomes: Counter[str] = Counter()
    with (
        httpx.Client(timeout=timeout, limits=limits) as client,
        ThreadPoolExecutor(concurrency, thread_name_prefix="raw-client") as pool,
    ):

        def one(batch: Batch):
            bucket.take()
            return provider.send(client, message, batch)

        list(pool.map(one, warmup))  # open the kept-alive connections first
        started, cpu = time.perf_counter(), time.process_time()
        for result in pool.map(one, batches):
            outcomes[str(result.outcome)] += 1
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Rate(len(batches), elapsed, dict(outcomes), cpu_seconds=cpu)


def raw_bytes(request: httpx.Request) -> bytes:
    """Return ``request`` as the HTTP/1.1 bytes a client writes (keep-alive)."""
    head = [f"{request.method} {request.url.raw_path.decode('ascii')} HTTP/1.1".encode()]
    for name, value in request.headers.raw:
        head.append(name + b": " + value)
    return b"\r\n".join(head) + b"\r\n\r\n" + request.read()


async def _hammer(port: int, payloads: Sequence[bytes], connections: int) -> tuple[int, float, Counter]:
    statuses: Counter[int] = Counter()
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while next_index < len(payloads):
                payload = payloads[next_index]
                next_index += 1
                writer.write(payload)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                statuses[status] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return len(payloads), time.perf_counter() - started, statuses


def emulator_capacity(port: int, payloads: Sequence[bytes], *, connections: int = 16) -> Rate:
    """Write every payload once over ``connections`` kept-alive connections; return the
    emulator's answer rate (non-200 answers are counted in ``outcomes``)."""
    requests, seconds, statuses = asyncio.run(_hammer(port, payloads, connections))
    return Rate(requests, seconds, {f"HTTP {code}": n for code, n in sorted(statuses.items())})
