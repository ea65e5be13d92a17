"""python-telegram-bot's network layer on aiohttp instead of httpx.

python-telegram-bot lets an application bring its own `BaseRequest`. httpx was most of
the CPU time per update in the benchmark (`make bench`: about half of each update,
more than our own handling), and aiohttp, which this project already uses for its
webhook server, does the same request for less. The library's own classes still do
everything above the wire: parameters, errors, retries, flood limits.
`BOT_HTTP=httpx` switches back to the library's default.
"""

from __future__ import annotations

import contextlib
import functools
import json
import urllib.parse
import urllib.request

import aiohttp
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData

# python-telegram-bot's own defaults for HTTPXRequest, so switching changes speed, not behaviour.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 5.0
POOL_TIMEOUT = 1.0


class UnsentTimeout(TimedOut):
    """A connect or pool timeout: the request never left, so sending it again cannot double it."""


# aiohttp 3.10+ tells a connect timeout (which covers the wait for a pooled connection) from a read one.
_CONNECT_TIMEOUTS: tuple[type[BaseException], ...] = tuple(
    t for t in (getattr(aiohttp, "ConnectionTimeoutError", None),) if t is not None)


def surely_not_sent(exc: BaseException) -> bool:
    """True when a failed request never reached the server: a connect or pool timeout, with aiohttp
    or httpx. A read timeout is not: the request was written and may still be carried out."""
    if isinstance(exc, UnsentTimeout):
        return True
    cause = exc.__cause__
    return type(cause).__name__ in {"ConnectTimeout", "PoolTimeout"} or str(exc).startswith("Pool timeout")


class AiohttpRequest(BaseRequest):
    def __init__(self, connection_pool_size: int = 256, read_timeout: float | None = READ_TIMEOUT,
                 connect_timeout: float | None = CONNECT_TIMEOUT, pool_timeout: float | None = POOL_TIMEOUT) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict:
        """As the library's, without logging the body: a getUpdates answer holds what people wrote."""
        try:
            return json.loads(payload.decode("utf-8", "replace"))
        except ValueError as exc:
            raise TelegramError("Invalid server response (not JSON)") from exc

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size)
            # Not trust_env: with it aiohttp reads ~/.netrc and the environment on every request, in
            # a thread (a tenth of the CPU time in `make bench`). The proxy settings are read once
            # instead (_proxy), as httpx does.
            self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: float | None = BaseRequest.DEFAULT_NONE,
        write_timeout: float | None = BaseRequest.DEFAULT_NONE,
        connect_timeout: float | None = BaseRequest.DEFAULT_NONE,
        pool_timeout: float | None = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        # "Not given" is BaseRequest.DEFAULT_NONE, as python-telegram-bot documents for custom requests.
        read = self._read_timeout if read_timeout is BaseRequest.DEFAULT_NONE else read_timeout
        connect = self._connect_timeout if connect_timeout is BaseRequest.DEFAULT_NONE else connect_timeout
        pool = self._pool_timeout if pool_timeout is BaseRequest.DEFAULT_NONE else pool_timeout
        # aiohttp's `connect` covers waiting for a pooled connection and opening one; it has no
        # separate write timeout (a Bot API request body is small), so `write_timeout` is unused.
        # `sock_read` is per read, so a response trickled a byte at a time never ends: `total` does.
        parts = (read, connect, pool)
        timeout = aiohttp.ClientTimeout(total=None if None in parts else sum(parts), sock_read=read,
                                        sock_connect=connect,
                                        connect=None if connect is None or pool is None else connect + pool)
        try:
            # No redirects, as httpx by default: a 307 would re-send the token's request, chat id and
            # text to wherever it points.
            async with self._session.request(method, url, data=_body(request_data), timeout=timeout,
                                             allow_redirects=False,
                                             proxy=_proxy(urllib.parse.urlsplit(url)[:2])) as response:
                return response.status, await response.read()
        except _CONNECT_TIMEOUTS as exc:
            raise UnsentTimeout("Timed out connecting") from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc


@functools.cache
def _proxy(scheme_and_host: tuple[str, str]) -> str | None:
    """HTTPS_PROXY / HTTP_PROXY / NO_PROXY for a host, read once per host."""
    scheme, netloc = scheme_and_host
    host = netloc.rsplit("@", 1)[-1].split(":", 1)[0]
    if urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies().get(scheme)


def _body(request_data: RequestData | None) -> aiohttp.FormData | aiohttp.BytesPayload | None:
    """Form fields as httpx would send them; multipart when there are files."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    if not request_data.contains_files:
        # Encoded here: aiohttp's own form encoder makes a multipart writer (and a uuid) for every request.
        return aiohttp.BytesPayload(urllib.parse.urlencode(fields).encode(),
                                    content_type="application/x-www-form-urlencoded")
    form = aiohttp.FormData(fields)
    for name, part in (request_data.multipart_data or {}).items():
        filename, content, mime = part if len(part) == 3 else (*part, None)  # type: ignore[misc]
        with contextlib.suppress(AttributeError):
            content = content.read()  # a file object: aiohttp wants bytes here
        form.add_field(name, content, filename=filename, content_type=mime)
    return form

