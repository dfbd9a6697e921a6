"""A TCP proxy a test can cut and restore, to play a database, Redis or an
action server going away and coming back without touching the real service
(other tests on this machine use it).

    with TcpProxy("127.0.0.1", 5432) as proxy:
        url = f"postgresql://postgres@127.0.0.1:{proxy.port}/db"
        ...
        proxy.cut()        # every open connection reset, new ones reset at once
        proxy.cut("hang")  # or: connections accepted and left hanging, nothing forwarded
        proxy.restore()    # forwarding again on the same port
        proxy.cut_after(1) # forward one more connection, then cut (a failure mid-way)

The listening socket stays open the whole time, so the port is never taken
by someone else between a cut and a restore. Threads, not asyncio: it
serves subprocesses (`rasa run`) and in-process event loops alike.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

MODES = ("reset", "hang")
_BUFFER = 65536


def _reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0), as a crashed or restarted server does."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes a pump blocked in recv
    with contextlib.suppress(OSError):
        sock.close()


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1", port: int = 0):
        self.target = (target_host, target_port)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(128)
        self.host, self.port = self._listener.getsockname()[:2]
        self._mode: str | None = None  # None: forwarding
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = False
        self.connections = 0  # forwarded so far, for assertions
        self._cut_at: tuple[int, str] | None = None  # (connection count, mode)
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)

    # --- control ------------------------------------------------------------

    def start(self) -> TcpProxy:
        self._thread.start()
        return self

    def cut(self, mode: str = "reset") -> None:
        """Drop every open connection; until `restore`, new connections are
        reset at once ("reset") or accepted and never answered ("hang")."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        with self._lock:
            self._mode = mode
            sockets, self._open = self._open, set()
        for sock in sockets:
            _reset(sock)

    def cut_after(self, connections: int, mode: str = "reset") -> None:
        """Forward `connections` more new connections, then cut (`cut(mode)`);
        those already open stay open. Each action call of Rasa is a new
        connection, so this fails a turn after its first actions."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        with self._lock:
            self._cut_at = (self.connections + connections, mode)

    def restore(self) -> None:
        """Forward again; connections left hanging by a "hang" cut are reset."""
        with self._lock:
            self._mode = None
            self._cut_at = None
            sockets, self._open = self._open, set()
        for sock in sockets:
            _reset(sock)

    @property
    def is_cut(self) -> bool:
        return self._mode is not None

    def stop(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.cut()
        self._thread.join(timeout=5)

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- forwarding ---------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._cut_at and self.connections >= self._cut_at[0]:
                    self._mode, self._cut_at = self._cut_at[1], None
                mode = self._mode
                if mode == "hang":
                    self._open.add(client)
                elif mode is None:
                    self.connections += 1  # counted here, so cut_after is exact
            if mode == "reset":
                _reset(client)
            elif mode is None:
                threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
            upstream.settimeout(None)
        except OSError:
            _reset(client)
            return
        with self._lock:
            if self._mode is not None:  # cut while we were connecting
                _reset(client)
                _reset(upstream)
                return
            self._open.update((client, upstream))
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(_BUFFER):
                sink.sendall(data)
        except OSError:
            pass
        # One side finished or failed: end both, unless a cut already did.
        with self._lock:
            mine = source in self._open or sink in self._open
            self._open.discard(source)
            self._open.discard(sink)
        if mine:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()
