"""The store: an embedded SQLite index plus one folder per cell. The only owner of the disk layout.

    STORE/index.sqlite        cells (hash, kind, spec, status, claim, error) and experiment membership
    STORE/cells/<hash>/       spec.json and the cell's artifacts (model or adapter, predictions, metrics)

A cell is `done` only once its artifacts are written (each atomically) and the index says so; a
crash in between leaves it `running` under a dead claim, which the next worker reclaims and redoes.
Claims are single UPDATE statements, so two workers never take the same cell. SQLite runs in WAL mode
so readers (status, report) never block the writers.

No torch here: the report reads the store without loading models.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from ftscope.experiments.cells import Cell
from ftscope.results import write_json

SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
  hash TEXT PRIMARY KEY, kind TEXT NOT NULL, spec TEXT NOT NULL, needs TEXT,
  status TEXT NOT NULL DEFAULT 'pending', worker TEXT, heartbeat REAL,
  started REAL, finished REAL, seconds REAL, error TEXT, attempts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS membership (
  experiment TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (experiment, hash));
"""
STALE_SECONDS = 120.0  # a claim not refreshed for this long belongs to a dead worker


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claim_is_dead(worker: str | None, heartbeat: float | None, now: float) -> bool:
    if worker is None or heartbeat is None or now - heartbeat > STALE_SECONDS:
        return True
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's worker: only its heartbeat can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Store:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        (self.root / "cells").mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.root / "index.sqlite", timeout=60, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            yield db
        finally:
            db.close()

    def cell_dir(self, hash_: str) -> Path:
        return self.root / "cells" / hash_

    # ---- registration -------------------------------------------------------------------
    def register(self, experiment: str, cells: Iterable[Cell]) -> None:
        cells = list(cells)
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR IGNORE INTO cells (hash, kind, spec, needs) VALUES (?, ?, ?, ?)",
                           [(c.hash, c.kind, c.spec_json, c.needs) for c in cells])
            db.executemany("INSERT OR IGNORE INTO membership VALUES (?, ?)", [(experiment, c.hash) for c in cells])
            db.execute("COMMIT")
        for c in cells:
            spec_file = self.cell_dir(c.hash) / "spec.json"
            if not spec_file.is_file():
                write_json(spec_file, {"kind": c.kind, "spec": c.spec})

    def retry_failed(self, experiment: str) -> int:
        """A new run gives failed cells another go: the user may have fixed their cause."""
        with self._db() as db:
            cur = db.execute("UPDATE cells SET status='pending', error=NULL WHERE status='failed' AND hash IN "
                             "(SELECT hash FROM membership WHERE experiment=?)", (experiment,))
            return cur.rowcount

    # ---- claims -------------------------------------------------------------------------
    def claim(self, hash_: str, worker: str) -> bool:
        """Take a pending cell, or one whose worker died. True if this worker now owns it."""
        now = time.time()
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT status, worker, heartbeat FROM cells WHERE hash=?", (hash_,)).fetchone()
            takeable = row and (row[0] == "pending" or (row[0] == "running" and _claim_is_dead(row[1], row[2], now)))
            if takeable:
                db.execute("UPDATE cells SET status='running', worker=?, heartbeat=?, started=?, "
                           "attempts=attempts+1 WHERE hash=?", (worker, now, now, hash_))
            db.execute("COMMIT")
            return bool(takeable)

    def heartbeat(self, hash_: str, worker: str) -> None:
        with self._db() as db:
            db.execute("UPDATE cells SET heartbeat=? WHERE hash=? AND worker=?", (time.time(), hash_, worker))

    def complete(self, hash_: str, worker: str) -> None:
        now = time.time()
        with self._db() as db:
            db.execute("UPDATE cells SET status='done', finished=?, seconds=?-started, error=NULL "
                       "WHERE hash=? AND worker=?", (now, now, hash_, worker))

    def fail(self, hash_: str, worker: str, error: str) -> None:
        with self._db() as db:
            db.execute("UPDATE cells SET status='failed', finished=?, error=? WHERE hash=? AND worker=?",
                       (time.time(), error, hash_, worker))

    # ---- reading ------------------------------------------------------------------------
    def status_of(self, hashes: Iterable[str]) -> dict[str, str]:
        hashes = list(hashes)
        with self._db() as db:
            rows = db.execute(f"SELECT hash, status FROM cells WHERE hash IN ({','.join('?' * len(hashes))})",
                              hashes).fetchall() if hashes else []
        return dict(rows)

    def rows(self, experiment: str | None = None) -> list[dict[str, Any]]:
        """Every cell (of one experiment, or all), with its spec parsed and its folder."""
        query = "SELECT hash, kind, spec, needs, status, worker, seconds, error, attempts FROM cells"
        args: tuple = ()
        if experiment is not None:
            query += " WHERE hash IN (SELECT hash FROM membership WHERE experiment=?)"
            args = (experiment,)
        with self._db() as db:
            found = db.execute(query, args).fetchall()
        keys = ("hash", "kind", "spec", "needs", "status", "worker", "seconds", "error", "attempts")
        out = [dict(zip(keys, r)) for r in found]
        for row in out:
            row["spec"] = json.loads(row["spec"])
            row["dir"] = str(self.cell_dir(row["hash"]))
        return out

    def experiments(self) -> list[str]:
        with self._db() as db:
            return [r[0] for r in db.execute("SELECT DISTINCT experiment FROM membership ORDER BY experiment")]
