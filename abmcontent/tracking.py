"""Engagement tracking: record() in the request, a writer thread per process stores events in batches.

Why this shape
--------------
* Never make a visitor wait. Pixels, click redirects and time-on-page beacons answer in
  microseconds: record() only validates, stamps a random key and a UTC time, truncates strings
  and appends a plain dict to an in-process deque. It never touches the database, so a locked
  SQLite file, a slow PostgreSQL or a database that is down cannot slow a page or fail it.
* Throughput. A writer thread (one per process and app; started by record(), restarted after a
  fork, exits after a few idle seconds) drains the deque every ~100 ms and stores each batch with
  ONE executemany INSERT in ONE transaction: thousands of events a second cost a few commits.
* Never lose an event. If an insert fails, the batch goes to a spool file (JSON lines, fsynced,
  published by an atomic rename so a half-written file is never read) and the writer backs off
  (1 s doubling to 30 s) while it keeps spooling. Spool files are replayed when the database
  answers again, and every 10 s, by whichever process claims a file first (atomic rename to
  ``.replaying-<pid>``), so files left by a dead process are picked up too. Every event has a
  random unique ``key`` and the INSERT ignores keys already stored: a file replayed twice (crash
  between insert and delete) stores nothing twice. If the deque passes TRACKING_QUEUE_MAX (the
  writer is stuck), record() spools the overflow itself rather than grow without bound. At exit
  an atexit hook flushes what is left (to the spool if the database fails).
* An email open is known in the request only by its touchpoint (the pixel's signed id). The
  writer reads the touchpoints of a whole batch in one query and fills in the account, the
  contact (none under DNT), the asset and the machine flag (record_open): a pixel costs no
  query, and opens keep recording while the database is away (the spool keeps them unresolved,
  the replay resolves them). An open of a touchpoint deleted meanwhile records nothing.
* One row the database will never take (a programming error) must not hold back the others:
  when a spool file fails while the database is healthy, its rows are inserted one by one and
  the refused ones are set aside in ``rejected-*.jsonl`` for an operator (see pending()).

Only a hard kill (SIGKILL, power loss) loses what is still in memory, normally < 1 s of events.
Settings: TRACKING_SPOOL (folder, default <instance>/spool), TRACKING_QUEUE_MAX (default 50,000).
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
import uuid
import weakref
from collections import deque
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from flask import Flask, current_app
from sqlalchemy import exc as sa_exc
from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from abmcontent.extensions import db
from abmcontent.models.engagement import EVENT_TYPES, EngagementEvent

log = logging.getLogger(__name__)

TABLE = EngagementEvent.__table__
_TYPES = frozenset(EVENT_TYPES)
_FIELDS = frozenset(c.name for c in TABLE.columns if c.name not in ("id", "type"))
_LIMITS = {c.name: c.type.length for c in TABLE.columns
           if getattr(c.type, "length", None) and c.name != "type"}
# Every row gets every column (executemany needs one shape); None for non-null strings → default.
_DEFAULTS = {c.name: (c.default.arg if c.default is not None and c.default.is_scalar else None)
             for c in TABLE.columns if c.name != "id"}

BATCH = 1000          # rows per INSERT
INTERVAL = 0.1        # the writer wakes this often: what accumulates meanwhile is one batch
IDLE_EXIT = 2.0       # an idle writer thread exits; the next record() starts another
SCAN_EVERY = 10.0     # look for spool files (e.g. from a dead process) this often
BACKOFF_MAX = 30.0
QUEUE_MAX = 50_000

_recorders: weakref.WeakSet[Recorder] = weakref.WeakSet()

# A row still to be completed from its touchpoint: [do_not_track, machine reason from the agent]
PENDING = "_open"
_ACCEPTED = _FIELDS | {PENDING}


class Recorder:
    """The queue, writer thread and spool of one app in one process (app.extensions["abm_tracking"])."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.spool = app.config.get("TRACKING_SPOOL") or os.path.join(app.instance_path, "spool")
        self.queue_max = int(app.config.get("TRACKING_QUEUE_MAX") or QUEUE_MAX)
        self._reset()

    def _reset(self) -> None:
        """Fresh state for this process (also after a fork: the parent keeps its own events)."""
        self.pid = os.getpid()
        self.queue: deque[dict[str, Any]] = deque()
        self.running = False
        self.start_lock = threading.Lock()   # guards `running`: one writer thread at a time
        self.write_lock = threading.Lock()   # held while a batch is taken and written / replayed
        self.inflight: list[dict[str, Any]] = []
        self.failures = 0
        self.retry_at = 0.0                  # monotonic time before which the database is not tried
        self.next_scan = 0.0

    # --- the request side: must stay cheap ----------------------------------------------------

    def record(self, type_: str, row: dict[str, Any]) -> str:
        if not row.keys() <= _ACCEPTED:
            raise TypeError(f"unknown engagement event fields: {sorted(row.keys() - _ACCEPTED)}")
        for name in _LIMITS.keys() & row.keys():  # visitor-sent text: bounded, and no NUL (PostgreSQL)
            value = row[name]
            if value.__class__ is str and (len(value) > _LIMITS[name] or "\x00" in value):
                row[name] = value.replace("\x00", "")[:_LIMITS[name]]
        row["type"] = type_
        if not row.get("key"):
            row["key"] = os.urandom(16).hex()  # what uuid4().hex holds (128 random bits), 4x cheaper
        when = row.get("occurred_at")
        if when is None:
            row["occurred_at"] = datetime.now(timezone.utc)
        elif not isinstance(when, datetime) or when.tzinfo is None:
            raise ValueError("occurred_at must be an aware datetime")
        if self.pid != os.getpid():
            self._reset()
        if len(self.queue) >= self.queue_max:
            self._overflow(row)
        else:
            self.queue.append(row)
        if not self.running:
            self._start_writer()
        return row["key"]

    def _overflow(self, row: dict[str, Any]) -> None:
        """The writer is stuck: move the oldest events and this one to a spool file."""
        spill = [row] + self._take(BATCH)
        if not self._spool(spill):
            self.queue.extend(spill)  # the disk failed too: memory is the last place left

    def _start_writer(self) -> None:
        with self.start_lock:
            if not self.running:
                self.running, self.next_scan = True, 0.0  # a new writer looks at the spool first
                threading.Thread(target=self._run, name="abm-tracking-writer", daemon=True).start()

    # --- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        idle_since = time.monotonic()
        while True:
            now = time.monotonic()
            pause = 1.0 if now < self.retry_at else INTERVAL
            try:
                if self.queue:
                    idle_since = now
                    with self.write_lock:
                        if now < self.retry_at:  # backing off: keep the events safe on disk meanwhile
                            self._spool_or_requeue(self._take(10 * BATCH))
                        else:
                            self._write(self._take(BATCH))
                    if len(self.queue) >= BATCH and now >= self.retry_at:
                        continue  # a busy second: no pause between full batches
                elif now - idle_since > IDLE_EXIT and not self.failures:  # else: stay to replay
                    with self.start_lock:
                        self.running = False
                        if not self.queue:
                            return
                        self.running = True  # an event arrived while we decided to leave
                if now >= self.next_scan and now >= self.retry_at:
                    with self.write_lock:
                        self._replay()
            except Exception:  # a writer that died would silently stop tracking
                log.exception("tracking: writer error")
                pause = 1.0
            time.sleep(pause)

    def _take(self, limit: int) -> list[dict[str, Any]]:
        batch = []
        try:
            for _ in range(limit):
                batch.append(self.queue.popleft())
        except IndexError:
            pass
        return batch

    def _write(self, batch: list[dict[str, Any]]) -> int:
        """Insert one batch; on failure spool it and back off. Returns rows stored."""
        if not batch:
            return 0
        self.inflight = batch
        try:
            stored = self._insert(batch)
        except Exception as exc:  # any failure: the events must still be kept
            self._failed(exc, len(batch))
            self._spool_or_requeue(batch)
            return 0
        finally:
            self.inflight = []
        if self.failures:  # the database is back: replay what was spooled meanwhile
            self.failures, self.retry_at, self.next_scan = 0, 0.0, 0.0
        return stored

    def _insert(self, rows: list[dict[str, Any]]) -> int:
        rows = [{**_DEFAULTS, **{k: v for k, v in row.items() if v is not None}} for row in rows]
        with self.app.app_context(), db.engine.begin() as conn:
            if any(PENDING in row for row in rows):
                rows = _complete_opens(conn, rows)
                if not rows:
                    return 0
            dialect = conn.dialect.name
            # Only a known key is skipped. (SQLite's INSERT OR IGNORE would also drop, silently, a
            # row breaking NOT NULL; ON CONFLICT (key) DO NOTHING exists since SQLite 3.24.)
            if dialect == "postgresql":
                stmt = pg_insert(TABLE).on_conflict_do_nothing(index_elements=["key"])
            elif dialect == "sqlite":
                stmt = sqlite_insert(TABLE).on_conflict_do_nothing(index_elements=["key"])
            else:
                stmt = insert(TABLE)
            result = conn.execute(stmt, rows)
        return result.rowcount if result.rowcount >= 0 else len(rows)

    def _failed(self, exc: BaseException, count: int) -> None:
        self.failures += 1
        delay = min(BACKOFF_MAX, 2.0 ** (self.failures - 1))
        self.retry_at = time.monotonic() + delay
        log.warning("tracking: could not store %d events (%s); spooled, next try in %.0f s",
                    count, str(exc).splitlines()[0][:200], delay)

    # --- the spool --------------------------------------------------------------------------

    def _spool(self, rows: list[dict[str, Any]], prefix: str = "events") -> bool:
        if not rows:
            return True
        path = os.path.join(self.spool, f"{prefix}-{os.getpid()}-{uuid.uuid4().hex}.jsonl")
        try:
            os.makedirs(self.spool, mode=0o700, exist_ok=True)  # visitor data: owner only
            fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.writelines(json.dumps(row, default=_json_default, ensure_ascii=False) + "\n"
                               for row in rows)
                out.flush()
                os.fsync(out.fileno())
            os.replace(path + ".tmp", path)
            self.next_scan = 0.0  # replay it as soon as the database takes writes
            return True
        except OSError:
            log.exception("tracking: could not write spool file %s", path)
            return False

    def _spool_or_requeue(self, rows: list[dict[str, Any]]) -> None:
        if not self._spool(rows):
            self.queue.extend(rows)

    def _replay(self, deadline: float | None = None) -> int:
        """Store the spooled files this process can claim; stops at the first database failure."""
        self.next_scan = time.monotonic() + SCAN_EVERY
        try:
            names = sorted(os.listdir(self.spool))
        except FileNotFoundError:
            names = []
        me, stored = os.getpid(), 0
        for name in list(names):  # a replay cut short by a dead process: give its file back
            base, _, pid = name.rpartition(".replaying-")
            if base and pid.isdigit() and int(pid) != me and not _alive(int(pid)):
                _rename(os.path.join(self.spool, name), os.path.join(self.spool, base))
                names.append(base)
        for name in sorted(n for n in set(names) if n.startswith("events-") and n.endswith(".jsonl")):
            if deadline is not None and time.monotonic() > deadline:
                break
            path = os.path.join(self.spool, name)
            claimed = f"{path}.replaying-{me}"
            if not _rename(path, claimed):
                continue  # another process got it first
            try:
                with open(claimed, encoding="utf-8") as spooled:
                    rows = [_decode(json.loads(line)) for line in spooled if line.strip()]
            except (OSError, ValueError, TypeError, KeyError):
                log.exception("tracking: unreadable spool file %s set aside", name)
                _rename(claimed, os.path.join(self.spool, "rejected-" + name))
                continue
            try:
                try:
                    stored += self._insert(rows)
                except Exception as exc:
                    if not self._row_problem(exc):
                        raise
                    stored += self._insert_one_by_one(rows)
            except Exception as exc:  # the database is unwell: the file waits for the next try
                _rename(claimed, path)
                self._failed(exc, len(rows))
                return stored
            os.remove(claimed)
        if deadline is None or time.monotonic() <= deadline:
            self.failures, self.retry_at = 0, 0.0  # nothing of ours waits for the database now
        return stored

    def _row_problem(self, exc: Exception) -> bool:
        """Did the database refuse the data (not fail as a whole)? Then rows go one by one."""
        if isinstance(exc, (sa_exc.IntegrityError, sa_exc.DataError)):
            return True
        if isinstance(exc, sa_exc.StatementError) and not isinstance(exc, sa_exc.DBAPIError):
            return True  # a value our side could not bind
        if isinstance(exc, sa_exc.ProgrammingError):  # a bad value, or PostgreSQL's missing table?
            try:
                with self.app.app_context(), db.engine.begin() as conn:
                    conn.execute(select(TABLE.c.id).limit(0))
                return True
            except Exception:
                return False
        return False

    def _insert_one_by_one(self, rows: list[dict[str, Any]]) -> int:
        stored, refused = 0, []
        for row in rows:
            try:
                stored += self._insert([row])
            except Exception as exc:
                if not self._row_problem(exc):
                    raise
                refused.append(row)
        if refused:
            log.error("tracking: the database refused %d events; kept in %s/rejected-*.jsonl",
                      len(refused), self.spool)
            if not self._spool(refused, prefix="rejected"):
                raise OSError("could not set refused events aside")
        return stored

    # --- synchronous use ----------------------------------------------------------------------

    def flush(self, timeout: float = 10.0, at_exit: bool = False) -> int:
        if self.pid != os.getpid():
            self._reset()
        deadline = time.monotonic() + timeout
        if not self.write_lock.acquire(timeout=timeout):
            # The writer is stuck in the database: keep the queue (and, at exit, its batch) on disk.
            self._spool_or_requeue(self._take(len(self.queue)) + (list(self.inflight) if at_exit else []))
            return 0
        try:
            stored = 0
            while self.queue:
                before = self.failures
                stored += self._write(self._take(BATCH))
                if self.failures > before or time.monotonic() > deadline:
                    self._spool_or_requeue(self._take(len(self.queue)))
                    return stored
            return stored + self._replay(deadline)
        finally:
            self.write_lock.release()

    def pending(self) -> dict[str, int]:
        try:
            names = os.listdir(self.spool)
        except FileNotFoundError:
            names = []
        return {
            "queued": len(self.queue),
            "spool_files": sum(n.startswith("events-") and ".tmp" not in n for n in names),
            "rejected_files": sum(n.startswith("rejected-") and n.endswith(".jsonl") for n in names),
        }


@lru_cache(maxsize=1)
def _touchpoints_query():
    """Built once: constructing a statement costs more than the database takes to run it."""
    from abmcontent.models import Touchpoint

    return select(Touchpoint.id, Touchpoint.account_id, Touchpoint.contact_id, Touchpoint.asset_id,
                  Touchpoint.sent_at).where(Touchpoint.id.in_(bindparam("ids", expanding=True)))


def _complete_opens(conn, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill in the opens of a batch (copies: the caller's rows stay as they are, to spool) from
    their touchpoints, read in one query; an open whose touchpoint is gone is dropped."""
    from abmcontent import machines

    ids = sorted({row["touchpoint_id"] for row in rows if PENDING in row})
    found = {tp.id: tp for tp in conn.execute(_touchpoints_query(), {"ids": ids})}
    complete = []
    for row in rows:
        if PENDING not in row:
            complete.append(row)
            continue
        touchpoint = found.get(row["touchpoint_id"])
        if touchpoint is None:
            continue
        dnt, agent_reason = row[PENDING]
        row = {k: v for k, v in row.items() if k != PENDING}
        row.update(account_id=touchpoint.account_id, contact_id=None if dnt else touchpoint.contact_id,
                   asset_id=touchpoint.asset_id,
                   machine=agent_reason or machines.open_reason(row["user_agent"], touchpoint.sent_at,
                                                                row["occurred_at"]))
        complete.append(row)
    return complete


def _json_default(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    when = datetime.fromisoformat(row["occurred_at"])
    row["occurred_at"] = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return row


def _rename(source: str, target: str) -> bool:
    try:
        os.rename(source, target)
        return True
    except FileNotFoundError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- public API -------------------------------------------------------------------------------

def init_app(app: Flask) -> Recorder:
    """Attach a recorder to the app (calling it again re-reads the TRACKING_* settings)."""
    recorder = Recorder(app)
    app.extensions["abm_tracking"] = recorder
    _recorders.add(recorder)
    return recorder


def _recorder(app: Flask | None) -> Recorder:
    app = app if app is not None else current_app._get_current_object()  # type: ignore[attr-defined]
    recorder = app.extensions.get("abm_tracking")
    return recorder if recorder is not None else init_app(app)


def record(type: str, *, app: Flask | None = None, **fields: Any) -> str:
    """Queue one engagement event and return its key at once; the writer thread stores it.

    ``fields`` are EngagementEvent columns (account_id, contact_id, asset_id, landing_page_id,
    visit, variant, value, channel, user_agent, detail, and optionally key and occurred_at).
    An unknown type (ValueError) or field (TypeError) is a programming error.
    """
    if type not in _TYPES:
        raise ValueError(f"unknown engagement event type {type!r}; expected one of {EVENT_TYPES}")
    return _recorder(app).record(type, fields)


def record_open(*, app: Flask | None = None, touchpoint_id: int, user_agent: str, do_not_track: bool) -> str:
    """Queue an email open by its touchpoint alone; the writer fills in the account, contact
    (none under DNT), asset and machine flag from the touchpoint (see the module's docstring)."""
    from abmcontent import machines

    now = datetime.now(timezone.utc)
    # what the agent alone says now, while the whole agent is at hand (the column keeps 300 characters)
    agent_reason = machines.open_reason(user_agent, None, now)
    return _recorder(app).record("email_open", {"touchpoint_id": touchpoint_id, "channel": "email",
                                                "user_agent": user_agent, "occurred_at": now,
                                                PENDING: [do_not_track, agent_reason]})


def flush(app: Flask | None = None, timeout: float = 10.0) -> int:
    """Store everything queued and replay the spool now, from this thread; returns rows stored.
    What the database refuses is spooled, never raised."""
    return _recorder(app).flush(timeout)


def pending(app: Flask | None = None) -> dict[str, int]:
    """For operators: events waiting in memory, spool files waiting, rejected files to look at."""
    return _recorder(app).pending()


def _after_fork() -> None:
    """In a forked child (a gunicorn worker): fresh queue, locks and writer for every recorder."""
    for recorder in list(_recorders):
        recorder._reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


@atexit.register
def _flush_at_exit() -> None:
    for recorder in list(_recorders):
        if recorder.queue or recorder.inflight:
            try:
                recorder.flush(timeout=5.0, at_exit=True)
            except Exception:  # best effort at exit
                log.exception("tracking: flush at exit failed")
