"""An HTTP server speaking East Money's list and kline formats and Tencent's, from a ``SimMarket``.

Tests, ``make demo`` and the benchmarks point the ``*_URL`` settings here. The switches in
``SimConfig`` (latency, failures, garbage, hangs, dropped connections, a requests-per-second
limit, poisoned answers — ``etfs.simulator.poison``) are read on every request, so a test
can make a running host turn hostile.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from etfs.simulator.formats import render_kline, render_list, render_tencent
from etfs.simulator.fund_formats import (
    RANK_PATH,
    SSE_QUERY_PATH,
    SSE_SOA_PATH,
    SZSE_REPORT_PATH,
    fund_source,
    render_fund,
)
from etfs.simulator.funds import SimFunds
from etfs.simulator.index import INDEX_SECID, render_index_kline
from etfs.simulator.market import SimConfig, SimMarket
from etfs.simulator.poison import poison_kline, poison_list
from etfs.simulator.tables import FUND_SPLITS_PATH, STOCK_BONUS_PATH, render_table, table_source

logger = logging.getLogger(__name__)

LIST_PATH = "/api/qt/clist/get"
KLINE_PATH = "/api/qt/stock/kline/get"
TENCENT_PATHS = ("/appstock/app/fqkline/get", "/appstock/app/newfqkline/get")
# settings.FUNDDATA key -> the environment variable that sets it (etfproject/settings.py).
FUND_ENV = {
    "NAV_HISTORY_URL": "FUND_NAV_HISTORY_URL",
    "NAV_LATEST_URL": "FUND_NAV_LATEST_URL",
    "PROFILE_URL": "FUND_PROFILE_URL",
    "SSE_FUND_LIST_URL": "SSE_FUND_LIST_URL",
    "SSE_SHARES_URL": "SSE_SHARES_URL",
    "SZSE_FUND_LIST_URL": "SZSE_FUND_LIST_URL",
    "SZSE_SHARES_URL": "SZSE_SHARES_URL",
}
HTML_ERROR = (
    "<!DOCTYPE html><html><head><title>{status}</title></head><body><h1>{status}</h1><p>{text}</p></body></html>"
)


@dataclass(frozen=True)
class RequestLogEntry:
    """One request as the simulator saw it; ``time`` is ``time.monotonic()`` at arrival."""

    time: float
    path: str
    query: dict[str, str]
    status: int  # 0 when the connection was dropped without an answer
    outcome: str  # ok, fail, garbage, hang, drop, limited, error
    user_agent: str
    referer: str


class Simulator:
    """A running simulated host: ``market`` (the truth), ``config`` (live switches), URLs, a log."""

    def __init__(self, config: SimConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SimConfig()
        self.market = SimMarket(self.config)
        self.funds = SimFunds(self.market)
        self.request_log: list[RequestLogEntry] = []
        self._host = host
        self._port = port
        self._rng = random.Random(f"{self.config.seed}/network")
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ---------------------------------------------------------------------------
    def start(self) -> Simulator:
        self._server = _Server((self._host, self._port), _Handler, self)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="marketdata-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering: close the listening socket and every open connection (so no pooled
        keep-alive connection can still reach a stopped host)."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> Simulator:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses and controls ------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def list_url(self) -> str:
        return self.base_url + LIST_PATH

    @property
    def kline_url(self) -> str:
        return self.base_url + KLINE_PATH

    @property
    def tencent_url(self) -> str:
        return self.base_url + TENCENT_PATHS[0]

    @property
    def fund_splits_url(self) -> str:
        return self.base_url + FUND_SPLITS_PATH

    @property
    def stock_bonus_url(self) -> str:
        return self.base_url + STOCK_BONUS_PATH

    def table_urls(self) -> dict[str, str]:
        """The announced-terms tables' URLs, keyed as ``settings.MARKETDATA`` and the environment name them."""
        return {"EASTMONEY_FUND_SPLITS_URL": self.fund_splits_url, "EASTMONEY_STOCK_BONUS_URL": self.stock_bonus_url}

    def fund_env(self) -> dict[str, str]:
        """The environment variables that point ``settings.FUNDDATA`` here."""
        return {FUND_ENV[key]: url for key, url in self.fund_urls().items()}

    def fund_urls(self) -> dict[str, str]:
        """The fund hosts' URLs, keyed as ``settings.FUNDDATA`` names them."""
        return {
            "NAV_HISTORY_URL": self.base_url + "/pingzhongdata/{code}.js",
            "NAV_LATEST_URL": self.base_url + RANK_PATH,
            "PROFILE_URL": self.base_url + "/jbgk_{code}.html",
            "SSE_FUND_LIST_URL": self.base_url + SSE_SOA_PATH,
            "SSE_SHARES_URL": self.base_url + SSE_QUERY_PATH,
            "SZSE_FUND_LIST_URL": self.base_url + SZSE_REPORT_PATH,
            "SZSE_SHARES_URL": self.base_url + SZSE_REPORT_PATH,
        }

    @property
    def today(self) -> dt.date:
        return self.market.today

    def set_today(self, day: dt.date) -> None:
        self.config.today = day
        self.market.set_today(day)

    def revise_bar(self, symbol: str, day: dt.date, **fields: Any) -> None:
        """Revise a past bar, as the provider sometimes does (see ``SimMarket.revise_bar``)."""
        self.market.revise_bar(symbol, day, **fields)

    def requests(self, path: str | None = None) -> list[RequestLogEntry]:
        """The log, optionally only the requests to ``path``."""
        with self._lock:
            return [entry for entry in self.request_log if path is None or entry.path == path]

    # --- request handling (called by handler threads) ---------------------------------------------
    def _draw(self) -> str:
        """Which answer this request gets, from the live switches and the seeded network RNG."""
        cfg = self.config
        with self._lock:
            if cfg.rps_limit > 0:
                now = time.monotonic()
                while self._recent and now - self._recent[0] >= 1.0:
                    self._recent.popleft()
                if len(self._recent) >= cfg.rps_limit:
                    return "limited"
                self._recent.append(now)
            roll = self._rng.random()
        for outcome, rate in (
            ("hang", cfg.hang_rate),
            ("fail", cfg.fail_rate),
            ("garbage", cfg.garbage_rate),
            ("drop", cfg.drop_rate),
        ):
            if roll < rate:
                return outcome
            roll -= rate
        return "ok"

    def _choice(self, options: list[Any]) -> Any:
        with self._lock:
            return self._rng.choice(options)

    def _log(self, entry: RequestLogEntry) -> None:
        with self._lock:
            self.request_log.append(entry)

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # benchmarks open many connections at once

    def __init__(self, address: tuple[str, int], handler: type, sim: Simulator) -> None:
        self.sim = sim
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections are closed after this
    server: _Server
    # BaseHTTPRequestHandler's own buffer of header lines (send_header fills it, flush_headers
    # writes it); typeshed leaves it out. _send appends a body to it to send both in one write.
    _headers_buffer: list[bytes]

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("simulator: " + format, *args)

    def do_GET(self) -> None:
        sim = self.server.sim
        split = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(split.query, keep_blank_values=True).items()}
        self._pending: dict[str, Any] | None = {
            "time": time.monotonic(),
            "path": split.path,
            "query": query,
            "outcome": sim._draw(),
            "user_agent": self.headers.get("User-Agent", ""),
            "referer": self.headers.get("Referer", ""),
        }
        outcome = self._pending["outcome"]
        try:
            if sim.config.latency > 0 and outcome != "limited":
                sim._wait(sim.config.latency)
            self._answer(sim, split.path, query, outcome)
        except OSError:  # the client went away (timed out, or the simulator is stopping)
            logger.debug("simulator: the client went away")
        except Exception:
            logger.exception("simulator: error answering %s", self.path)
            if self._pending is not None:
                self._pending["outcome"] = "error"
                self._send(500, HTML_ERROR.format(status="500", text="simulator error"), "text/html")

    def _record(self, status: int) -> None:
        """Log the request before its answer goes out, so a client that has its answer sees the entry."""
        if self._pending is not None:
            self.server.sim._log(RequestLogEntry(status=status, **self._pending))
            self._pending = None

    def _failure(self, sim: Simulator, outcome: str) -> int | None:
        """Answer a refusing outcome (429, a dropped connection, a 5xx) and return its status;
        None for the outcomes that still answer (a hang waits first)."""
        if outcome == "limited":
            return self._send(429, "请求过于频繁 (too many requests)", "text/plain", {"Retry-After": "1"})
        if outcome == "drop":
            self._record(0)
            self.close_connection = True
            return 0
        if outcome == "fail":
            status = sim._choice([500, 502, 503])
            return self._send(status, HTML_ERROR.format(status=status, text="Bad Gateway"), "text/html")
        if outcome == "hang":
            sim._wait(sim.config.hang_seconds)
        return None

    def _answer(self, sim: Simulator, path: str, query: dict[str, str], outcome: str) -> int:
        failed = self._failure(sim, outcome)
        if failed is not None:
            return failed
        poisons = tuple(sim.config.poison)
        if _source(path) in sim.config.outages:
            return self._send(503, HTML_ERROR.format(status="503", text="Service Unavailable"), "text/html")
        answered = self._answer_fund_or_table(sim, path, query, outcome)
        if answered is not None:
            return answered
        if path == LIST_PATH:
            body = render_list(sim.market, query)
            if poisons:
                body = poison_list(sim.market, poisons, sim.config.poison_symbol, query, body)
        elif path == KLINE_PATH:
            if query.get("klt", "101") != "101":
                return self._send(400, "the simulator serves daily bars only (klt=101)", "text/plain")
            body = _kline_body(sim, query, poisons)
        elif path in TENCENT_PATHS:
            body = render_tencent(sim.market, query)
        else:
            return self._send(404, HTML_ERROR.format(status="404", text="Not Found"), "text/html")
        if outcome == "garbage":
            return self._send_garbage(sim, body, query)
        return self._send(200, body, _content_type(query))

    def _answer_fund_or_table(self, sim: Simulator, path: str, query: dict[str, str], outcome: str) -> int | None:
        """Answer a fund host's path or an announced-terms table's; None for any other path."""
        table = render_table(sim.market, path, query)
        if table is not None:
            status, content_type, text = table
            if status == 200 and outcome == "garbage":
                return self._send_garbage(sim, text, query)
            return self._send(status, text, content_type)
        fund_answer = render_fund(sim.funds, path, query)
        if fund_answer is not None:
            status, content_type, payload = fund_answer
            if status == 200 and outcome == "garbage":
                payload = payload[: max(1, len(payload) // 2)]
            return self._send(status, payload, content_type, one_write=True)
        return None

    def _send_garbage(self, sim: Simulator, body: str, query: dict[str, str]) -> int:
        """A 200 whose body is broken: cut in half, the host's HTML "busy" page, or empty."""
        kind = sim._choice(["truncated", "html", "empty"])
        if kind == "html":
            return self._send(200, HTML_ERROR.format(status="系统繁忙", text="请稍后再试"), "text/html")
        return self._send(200, body[: max(1, len(body) // 2)] if kind == "truncated" else "", _content_type(query))

    def _send(
        self,
        status: int,
        body: str | bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        *,
        one_write: bool = False,
    ) -> int:
        """Answer; ``one_write`` sends headers and body in one segment (the fund hosts' answers:
        two small writes meet Nagle and delayed ACKs, ~40 ms a request on loopback)."""
        payload = body if isinstance(body, bytes) else body.encode("utf-8")
        self._record(status)
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if one_write:
            self._headers_buffer.append(b"\r\n" + payload)
            self.flush_headers()
            return status
        self.end_headers()
        self.wfile.write(payload)
        return status


def _source(path: str) -> str | None:
    """The simulated host behind ``path``, as ``SimConfig.outages`` names it."""
    if path in (LIST_PATH, KLINE_PATH):
        return "eastmoney"
    if path in TENCENT_PATHS:
        return "tencent"
    return table_source(path) or fund_source(path)


def _content_type(query: dict[str, str]) -> str:
    """JSONP (a ``cb`` or ``_var`` parameter) or JSON, as the hosts answer."""
    return "application/javascript" if ("cb" in query or "_var" in query) else "application/json"


@contextlib.contextmanager
def run_simulator(config: SimConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> Iterator[Simulator]:
    """Start a simulator on ``host:port`` (0 = a free port) for the ``with`` block."""
    sim = Simulator(config, host, port).start()
    try:
        yield sim
    finally:
        sim.stop()


def _kline_body(sim: Simulator, query: dict[str, str], poisons: tuple) -> str:
    """A ``kline/get`` answer: the SSE Composite (the calendar's source, never poisoned) or an instrument."""
    if query.get("secid") == INDEX_SECID:
        return render_index_kline(sim.market, query)
    body = render_kline(sim.market, query)
    if poisons:
        body = poison_kline(sim.market, poisons, sim.config.poison_symbol, query, body)
    return body
