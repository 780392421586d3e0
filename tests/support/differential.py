"""Differential testing against the real Node classes: run cases on both sides, compare.

``NodeObserver`` drives ``tests/interop/differential.mjs``; :func:`python_observe` builds the
same observations with this package. Observations are JSON: a session's known fields (dates
as ``{"$date": ms}``), ``is_expired`` / ``is_active`` at frozen instants around ``expires``,
scope checks, both property arrays, the DynamoDB item, the item and the property arrays read
back, and ``equals`` against six mutants. :mod:`tests.support.differential_rules` says which
differences are documented (the docs' "Differences from Node", generated from them).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import IO, Any
from unittest import mock

from shopify_sessions import AssociatedUser, AuthScopes, OnlineAccessInfo, Session
from shopify_sessions.domain import session as session_module
from shopify_sessions.dynamodb.codec import item_to_session, session_to_item

from .dynalite import INTEROP_DIR

DIFFERENTIAL_MJS = INTEROP_DIR / "differential.mjs"
MAX_SAFE_INTEGER = 2**53 - 1  # Number.MAX_SAFE_INTEGER
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
NOW_MS = 1_768_478_400_000  # 2026-01-15T12:00:00.000Z: both clocks are frozen here
DELTAS = (-501, -500, -499, -1, 0, 1)  # instants around expires, in ms
MIN_MS = (datetime(1, 1, 1, tzinfo=timezone.utc) - EPOCH) // timedelta(milliseconds=1)
MAX_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc) - EPOCH) // timedelta(
    milliseconds=1
)

NODE_FIELDS = (  # Node name, Python name
    ("id", "id"),
    ("shop", "shop"),
    ("state", "state"),
    ("isOnline", "is_online"),
    ("scope", "scope"),
    ("expires", "expires"),
    ("accessToken", "access_token"),
    ("refreshToken", "refresh_token"),
    ("refreshTokenExpires", "refresh_token_expires"),
    ("onlineAccessInfo", "online_access_info"),
)
DATE_FIELDS = frozenset({"expires", "refresh_token_expires"})
INFO_FIELDS = ("expires_in", "associated_user_scope")
USER_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "email_verified",
    "account_owner",
    "locale",
    "collaborator",
)


class NodeObserver:
    """One ``differential.mjs`` process: a batch of cases in, a list of observations out."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not on PATH")
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._proc = subprocess.Popen(
            [node, str(DIFFERENTIAL_MJS)],
            cwd=INTEROP_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
        )
        ready = self._read()
        if ready != {"ready": True}:
            raise RuntimeError(f"differential.mjs did not start: {ready!r}")

    def observe(self, cases: Sequence[dict[str, Any]], tz: str = "UTC") -> list[Any]:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"now": NOW_MS, "tz": tz, "cases": list(cases)}) + "\n")
        self._proc.stdin.flush()
        results: list[Any] = self._read()["results"]
        return results

    def _read(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self._stderr.seek(0)
            tail = self._stderr.read()[-4000:].decode("utf-8", "replace")
            raise RuntimeError(f"differential.mjs exited ({self._proc.poll()}): {tail}")
        message: dict[str, Any] = json.loads(line)
        return message

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._stderr.close()


# --- Python's observations ----------------------------------------------------------------------


def python_observe(case: dict[str, Any]) -> Any:
    """What this package does with ``case``: the observation differential.mjs makes in Node."""
    with frozen_clock(NOW_MS):
        if case["kind"] == "scopes":
            return attempt(lambda: _observe_scopes(case))
        try:
            session = build(case)
        except Exception as error:
            return error_of(error)
        return _observe_session(session, case["probes"])


def build(case: dict[str, Any]) -> Session:
    if case["kind"] == "session":
        return session_from_params(case["params"])
    if case["kind"] == "pa":
        return Session.from_property_array(case["entries"], case["rud"])
    if case["kind"] == "item":
        return item_to_session(case["item"])
    raise ValueError(case["kind"])


def session_from_params(params: dict[str, Any]) -> Session:
    """``new Session(params)`` the Python way: each Node key passed to its constructor field."""
    kwargs: dict[str, Any] = {}
    for node, name in NODE_FIELDS:
        value = params.get(node)
        if value is None:
            continue
        if name in DATE_FIELDS and isinstance(value, dict) and "$date" in value:
            value = EPOCH + timedelta(milliseconds=value["$date"])
        elif name == "online_access_info" and isinstance(value, dict):
            value = _info_from(value)
        kwargs[name] = value
    return Session(**kwargs)


def _info_from(raw: dict[str, Any]) -> OnlineAccessInfo:
    known = {key: raw[key] for key in INFO_FIELDS if raw.get(key) is not None}
    extra = {
        key: value
        for key, value in raw.items()
        if value is None or key not in (*INFO_FIELDS, "associated_user")
    }
    user = raw.get("associated_user")
    if user == {}:
        extra["associated_user"] = {}
    elif isinstance(user, dict):
        fields = {key: user[key] for key in USER_FIELDS if user.get(key) is not None}
        user_extra = {k: v for k, v in user.items() if v is None or k not in USER_FIELDS}
        known["associated_user"] = AssociatedUser(**fields, extra=user_extra)
    elif user is not None:
        known["associated_user"] = user
    return OnlineAccessInfo(**known, extra=extra)


@contextlib.contextmanager
def frozen_clock(ms: int) -> Iterator[None]:
    instant = EPOCH + timedelta(milliseconds=ms)
    with mock.patch.object(session_module, "_utcnow", return_value=instant):
        yield


def attempt(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as error:
        return error_of(error)


def error_of(error: BaseException) -> dict[str, str]:
    return {"error": type(error).__name__, "message": str(error)}


def view(session: Session) -> dict[str, Any]:
    """The session's fields in Node's shape (what differential.mjs's view() gives)."""
    out: dict[str, Any] = {}
    for node, name in NODE_FIELDS:
        value = getattr(session, name)
        if value is None:
            continue
        if name in DATE_FIELDS:
            out[node] = {"$date": (value - EPOCH) // timedelta(milliseconds=1)}
        elif name == "online_access_info":
            out[node] = _info_view(value)
        else:
            out[node] = value
    return out


def _enc(value: Any) -> Any:
    """Node's unmarshall gives a BigInt beyond 2**53: the same exact integer, spelled so."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INTEGER:
        return {"$bigint": str(value)}
    if isinstance(value, list):
        return [_enc(inner) for inner in value]
    if isinstance(value, dict):
        return {key: _enc(inner) for key, inner in value.items()}
    return value


def _info_view(info: OnlineAccessInfo) -> dict[str, Any]:
    out = _enc(info.extra)
    for key in INFO_FIELDS:
        if getattr(info, key) is not None:
            out[key] = getattr(info, key)
    user = info.associated_user
    if user is not None:
        out["associated_user"] = _enc(user.extra)
        for key in USER_FIELDS:
            if getattr(user, key) is not None:
                out["associated_user"][key] = getattr(user, key)
    return out


def _scopes_arg(spec: Any) -> Any:
    if isinstance(spec, dict):
        return AuthScopes(_scopes_arg(spec["$scopes"]))
    return spec


def _observe_scopes(case: dict[str, Any]) -> dict[str, Any]:
    a, b = _scopes_arg(case["a"]), _scopes_arg(case["b"])
    left = a if isinstance(a, AuthScopes) else AuthScopes(a)
    right = b if isinstance(b, AuthScopes) else AuthScopes(b)
    return {
        "a": {"string": str(left), "array": left.to_list()},
        "b": {"string": str(right), "array": right.to_list()},
        "aHasB": left.has(b),
        "bHasA": right.has(a),
        "aEqualsB": left.equals(b),
        "bEqualsA": right.equals(a),
    }


def _observe_session(session: Session, probes: dict[str, Any]) -> dict[str, Any]:
    withins = [timedelta(milliseconds=w) for w in probes["withins"]]
    scopes = probes["scopes"]
    expires = (
        None if session.expires is None else (session.expires - EPOCH) // timedelta(milliseconds=1)
    )
    instants = [NOW_MS] + ([expires + delta for delta in DELTAS] if expires is not None else [])
    expired: list[Any] = []
    active: list[Any] = []
    for instant in instants:
        if not MIN_MS <= instant <= MAX_MS:  # Python has no clock there: not observable
            expired += [{"skip": True}] * len(withins)
            active += [{"skip": True}] * (len(scopes) * (1 + len(withins)))
            continue
        with frozen_clock(instant):
            expired += [attempt(lambda w=w: session.is_expired(w)) for w in withins]
            for spec in scopes:
                active.append(attempt(lambda spec=spec: session.is_active(_scopes_arg(spec))))
                active += [
                    attempt(lambda spec=spec, w=w: session.is_active(_scopes_arg(spec), w))
                    for w in withins
                ]
    pa = attempt(lambda: [list(pair) for pair in session.to_property_array()])
    pa_user = attempt(lambda: [list(pair) for pair in session.to_property_array(True)])
    item = attempt(lambda: session_to_item(session))
    return {
        "fields": view(session),
        "instants": instants,
        "expired": expired,
        "active": active,
        "included": [
            attempt(lambda s=s: session.is_scope_included(_scopes_arg(s))) for s in scopes
        ],
        "changed": [attempt(lambda s=s: session.is_scope_changed(_scopes_arg(s))) for s in scopes],
        "pa": pa,
        "paUser": pa_user,
        "item": item,
        "reread": None if "error" in item else _other(session, lambda: item_to_session(item)),
        "fromPa": None
        if isinstance(pa_user, dict)
        else _other(session, lambda: Session.from_property_array(pa_user, True)),
        "fromPaNoUser": None
        if isinstance(pa, dict)
        else _other(session, lambda: Session.from_property_array(pa, False)),
        "mutants": [_mutant_equals(session, mutate) for mutate in MUTATIONS],
    }


def _other(session: Session, make: Callable[[], Session]) -> dict[str, Any]:
    try:
        other = make()
    except Exception as error:
        return error_of(error)
    return {"fields": view(other), "equals": session.equals(other)}


def _mutate_state(s: Session) -> Session | None:
    s.state += "~"
    return s


def _mutate_token(s: Session) -> Session | None:
    s.access_token = (s.access_token or "") + "~"
    return s


def _mutate_online(s: Session) -> Session | None:
    s.is_online = not s.is_online
    return s


def _mutate_expires(s: Session) -> Session | None:
    if s.expires is None:
        return None
    step = timedelta(milliseconds=1)
    try:
        s.expires = s.expires + step
    except OverflowError:  # Python's last millisecond: one back instead, equally "not equal"
        s.expires = s.expires - step
    return s


def _mutate_expires_in(s: Session) -> Session | None:
    info = s.online_access_info
    if info is None:
        return None
    value = (info.expires_in or 0) + 1
    info.expires_in = value if value <= MAX_SAFE_INTEGER else value - 2
    return s


def _mutate_email(s: Session) -> Session | None:
    info = s.online_access_info
    if info is None or info.associated_user is None:
        return None
    info.associated_user.email = (info.associated_user.email or "") + "~"
    return s


# the same six changes as MUTATIONS in differential.mjs, in the same order
MUTATIONS: tuple[Callable[[Session], Session | None], ...] = (
    _mutate_state,
    _mutate_token,
    _mutate_online,
    _mutate_expires,
    _mutate_expires_in,
    _mutate_email,
)


def _mutant_equals(session: Session, mutate: Callable[[Session], Session | None]) -> Any:
    mutant = mutate(session.copy())
    return None if mutant is None else attempt(lambda: session.equals(mutant))
