"""A network of fixed latency in front of the emulator, for bench/run --rtt.

Loopback hides what a CI runner pays for each AWS call: a round trip of 20-80 ms. This proxy
listens on 127.0.0.1 only and relays each HTTP exchange to the emulator so that it costs one
round trip more: the request reaches the emulator half a round trip after the client sent it,
the answer reaches the client half a round trip after the emulator gave it.

It speaks enough HTTP/1.1 to keep the client's connections alive, as AWS endpoints do: the
emulator (Werkzeug) answers every request with `Connection: close`, which on its own would make
every client open a new connection per call, a cost no real endpoint imposes. So each request
goes to the emulator on a connection of its own and its answer goes back on the client's
connection, marked keep-alive. With `handshake`, a new client connection also waits one round
trip before its first request (TCP's handshake; TLS would add one more, not modelled).

With `replay`, an answer the emulator gave is given again, from memory, to the same request
(method, path, X-Amz-Target and body; the signature's date aside) without asking the emulator.
The emulator is one Python process that serves concurrent calls one after another, at 5-20 ms
each: a benchmark run first through it once, then timed on its replayed answers, measures the
client and the network (every exchange served at once after the fixed round trip, as AWS serves
calls in parallel), not the emulator's queue. `exchanges` and `replayed` count what was served.

Bounded: at most MAX_CONNECTIONS client connections at once (further ones are closed at once),
requests and answers of at most MAX_MESSAGE bytes. It stops by itself: it runs in a daemon thread
of the benchmark's process and ends with it; `stop()` closes the listener and every connection.
"""
import asyncio
import re
import threading
import time

MAX_CONNECTIONS = 512
MAX_MESSAGE = 64 << 20

LENGTH = re.compile(rb"^content-length:\s*(\d+)\s*$", re.IGNORECASE | re.MULTILINE)
CLOSE = re.compile(rb"^connection:[^\r\n]*\r\n", re.IGNORECASE | re.MULTILINE)


class LatencyProxy:
    def __init__(self, upstream_port: int, rtt_ms: float, handshake: bool = False,
                 replay: bool = False):
        self.upstream_port = upstream_port
        self.one_way = rtt_ms / 2000.0
        self.rtt = rtt_ms / 1000.0
        self.handshake = handshake
        self.connections = 0
        self.accepted = 0
        self.exchanges = 0
        self.replayed = 0
        self.replay = replay
        self.answers = {}
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        if not ready.wait(10):
            raise RuntimeError("the latency proxy did not start")

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0, backlog=MAX_CONNECTIONS,
                                 limit=MAX_MESSAGE))
        self.port = self.server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    def stop(self):
        def close():
            self.server.close()
            for task in asyncio.all_tasks(self.loop):
                task.cancel()
            self.loop.stop()
        self.loop.call_soon_threadsafe(close)
        self.thread.join(5)

    async def _connection(self, reader, writer):
        if self.connections >= MAX_CONNECTIONS:
            writer.close()
            return
        self.connections += 1
        self.accepted += 1
        try:
            if self.handshake:
                await asyncio.sleep(self.rtt)
            while True:
                request = await read_message(reader)
                if request is None:
                    break
                arrived = time.monotonic()
                await asyncio.sleep(max(0.0, arrived + self.one_way - time.monotonic()))
                key = replay_key(request) if self.replay else None
                answer = self.answers.get(key) if key else None
                if answer is None:
                    answer = await self._exchange(request)
                    if key:
                        self.answers[key] = answer
                else:
                    self.replayed += 1
                await asyncio.sleep(self.one_way)
                writer.write(answer)
                await writer.drain()
                self.exchanges += 1
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self.connections -= 1
            writer.close()

    async def _exchange(self, request: bytes) -> bytes:
        """The request on a connection of its own to the emulator; its answer, keep-alive."""
        up_reader, up_writer = await asyncio.open_connection(
            "127.0.0.1", self.upstream_port, limit=MAX_MESSAGE)
        try:
            up_writer.write(request)
            await up_writer.drain()
            answer = await read_message(up_reader, until_close=True)
        finally:
            up_writer.close()
        if answer is None:
            raise ValueError("the emulator closed without an answer")
        head, _, body = answer.partition(b"\r\n\r\n")
        head = CLOSE.sub(b"", head + b"\r\n").rstrip(b"\r\n")
        if not LENGTH.search(head + b"\r\n"):
            head += b"\r\nContent-Length: %d" % len(body)
        return head + b"\r\nConnection: keep-alive\r\n\r\n" + body


TARGET = re.compile(rb"^x-amz-target:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


def replay_key(request: bytes):
    """What makes two requests the same call: request line, X-Amz-Target and body."""
    head, _, body = request.partition(b"\r\n\r\n")
    target = TARGET.search(head)
    return (head.split(b"\r\n", 1)[0], target[1] if target else b"", body)


async def read_message(reader, until_close=False):
    """One HTTP/1.1 message with a Content-Length body (or, for an answer without one, the
    bytes until the connection closes); None at a clean end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if e.partial:
            raise
        return None
    length = LENGTH.search(head)
    if length:
        size = int(length[1])
        if size > MAX_MESSAGE:
            raise ValueError("message too large")
        return head + await reader.readexactly(size)
    if b"transfer-encoding" in head.lower():
        raise ValueError("chunked messages are not relayed")
    return head + (await reader.read(MAX_MESSAGE) if until_close else b"")
