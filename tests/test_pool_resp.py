"""The pool's RESP2 codec: commands encoded as redis-py encodes them (the oracle), and a
pipelined connection to a real redis-server whose replies line up with their commands."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("redis")
pytest.importorskip("hiredis")
from _pool_harness import RedisServer  # noqa: E402
from redis.connection import PythonRespSerializer  # noqa: E402

from scribewire.pool.resp import RespConnection, encode_command  # noqa: E402


@pytest.mark.parametrize(
    "args",
    [
        ["PING"],
        ["XADD", "sw:{7}:a:c1", "250-0", "pcm", b"\x00\xff" * 2000, "end", "1"],
        ["EVALSHA", "ab" * 20, 3, "k1", "k2", "k3", -1, 0, "caf\u00e9"],
        ["SET", "k", b""],
    ],
)
def test_encoding_matches_redis_py(args: list[object]) -> None:
    oracle = b"".join(
        PythonRespSerializer(65536, lambda a: a if isinstance(a, bytes) else str(a).encode()).pack(
            *args
        )
    )
    assert encode_command(args) == oracle  # type: ignore[arg-type]


def test_bad_argument_types_are_refused() -> None:
    for bad in (1.5, None, True, ["x"]):
        with pytest.raises(TypeError):
            encode_command(["SET", "k", bad])  # type: ignore[list-item]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server
    server.stop()


def test_pipelined_replies_line_up_errors_included(redis_server: RedisServer) -> None:
    async def main() -> None:
        conn = await RespConnection.open(redis_server.url)
        try:
            replies = await conn.execute(
                [
                    ["SET", "a", "1"],
                    ["INCR", "a"],
                    ["HSET", "a", "f", "v"],  # WRONGTYPE: an error in place, not raised
                    ["XADD", "s", "1000-0", "pcm", b"\x01" * 100_000],
                    ["XADD", "s", "1000-0", "pcm", b"x"],  # ID not above the top
                    ["XRANGE", "s", "-", "+"],
                ]
            )
            assert replies[0] == b"OK" and replies[1] == 2
            assert isinstance(replies[2], Exception) and "WRONGTYPE" in str(replies[2])
            assert replies[3] == b"1000-0"
            assert isinstance(replies[4], Exception)
            assert replies[5] == [[b"1000-0", [b"pcm", b"\x01" * 100_000]]]
            # many batches in flight at once stay in order
            many = await asyncio.gather(*(conn.execute([["INCR", "n"]]) for _ in range(200)))
            assert sorted(r[0] for r in many) == list(range(1, 201))
        finally:
            conn.close()
        await asyncio.sleep(0)
        with pytest.raises(ConnectionError):
            await conn.execute([["PING"]])

    asyncio.run(main())
