"""The store: an embedded SQLite index plus one folder per cell. With files.py, the only owner of the disk
layout.

    STORE/index.sqlite        cells (hash, kind, cell JSON, status, claim, error), experiment membership and
                              each experiment's config, and the store's format version
    STORE/cells/<hash>/       the cell's files (files.CellFiles: spec, metrics, predictions, model)

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

from ftscope.errors import ConfigError
from ftscope.experiments.files import CellFiles
from ftscope.specs import Cell, canonical, cell_from_dict, cell_hash

# Version 2: cells are ftscope.specs cells (typed model reference, spec, task); version-1 stores (before
# 0.2) described cells as free-form dicts and are refused with one line rather than misread.
FORMAT = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
  hash TEXT PRIMARY KEY, kind TEXT NOT NULL, spec TEXT NOT NULL, needs TEXT,
  status TEXT NOT NULL DEFAULT 'pending', worker TEXT, heartbeat REAL,
  started REAL, finished REAL, seconds REAL, load_seconds REAL, ran_on TEXT, error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS membership (
  experiment TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (experiment, hash));
CREATE TABLE IF NOT EXISTS experiments (name TEXT PRIMARY KEY, config TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
STALE_SECONDS = 120.0  # a claim not refreshed for this long belongs to a dead worker


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_is_dead(worker: str | None, heartbeat: float | None, now: float) -> bool:
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
        fresh = not (self.root / "index.sqlite").is_file()
        try:
            (self.root / "cells").mkdir(parents=True, exist_ok=True)
            with self._db() as db:
                db.executescript(SCHEMA)
                if fresh:
                    db.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (str(FORMAT),))
                found = db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
        except (OSError, sqlite3.OperationalError) as e:  # a read-only folder fails at the index, not mkdir
            why = getattr(e, "strerror", None) or str(e)
            raise ConfigError(f"store {self.root}: not writable ({why}); give a store: path you can write "
                              "to") from None
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"{self.root / 'index.sqlite'}: not a readable store index ({e}); move the store "
                              "away or give a new store: path, and rerun") from None
        if found is None or int(found[0]) != FORMAT:
            raise ConfigError(f"{self.root}: this store was written by an older ftscope (format "
                              f"{found[0] if found else 1}, now {FORMAT}); its cells cannot be read back "
                              "faithfully: move it away or give a new store: path, and rerun")

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

    def files(self, hash_: str) -> CellFiles:
        return CellFiles(self.cell_dir(hash_))

    # ---- registration -------------------------------------------------------------------
    def register(self, experiment: str, cells: Iterable[Cell], config: str | None = None) -> None:
        """Add cells (idempotent) to an experiment; `config` is its config JSON, kept for the report.

        With `config`, `cells` are the experiment's whole grid and become its only members: after an edit of the
        YAML (a smaller limit, a dataset dropped) the report and status speak of the grid as it is now, while
        the cells of the earlier grid stay in the store, done, for when the YAML comes back to them."""
        cells = [(cell_hash(c), c) for c in cells]
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            if config is not None:
                db.execute("DELETE FROM membership WHERE experiment=?", (experiment,))
            db.executemany("INSERT OR IGNORE INTO cells (hash, kind, spec, needs) VALUES (?, ?, ?, ?)",
                           [(h, c.kind, canonical(c.to_dict()), c.needs) for h, c in cells])
            db.executemany("INSERT OR IGNORE INTO membership VALUES (?, ?)", [(experiment, h) for h, _ in cells])
            if config is not None:
                db.execute("INSERT OR REPLACE INTO experiments VALUES (?, ?)", (experiment, config))
            db.execute("COMMIT")
        for h, c in cells:
            self.files(h).write_spec(c)

    def config_of(self, experiment: str) -> dict[str, Any] | None:
        with self._db() as db:
            found = db.execute("SELECT config FROM experiments WHERE name=?", (experiment,)).fetchone()
        return json.loads(found[0]) if found else None

    def reset_broken(self, hashes: Iterable[str]) -> list[tuple[str, str]]:
        """Done cells whose files are torn or missing go back to pending, so they are computed again
        rather than reported; returns (hash, problem) for each one reset."""
        wanted = set(hashes)
        broken = [(r["hash"], p) for r in self.rows() if r["hash"] in wanted and r["status"] == "done"
                  and (p := self.files(r["hash"]).problem(r["kind"]))]
        with self._db() as db:
            for hash_, problem in broken:
                db.execute("UPDATE cells SET status='pending', worker=NULL, error=? WHERE hash=?",
                           (f"reset: {problem}", hash_))
        for hash_, _ in broken:
            self.files(hash_).clear_result()
        return broken

    def retry_failed(self, experiment: str) -> int:
        """A new run gives failed cells another go: the user may have fixed their cause."""
        with self._db() as db:
            cur = db.execute("UPDATE cells SET status='pending', error=NULL WHERE status='failed' AND hash IN "
                             "(SELECT hash FROM membership WHERE experiment=?)", (experiment,))
            return cur.rowcount

    # ---- claims -------------------------------------------------------------------------
    def claim(self, hash_: str, worker: str, where: str | None = None, limit: int | None = None) -> bool:
        """Take a pending cell, or one whose worker died. True if this worker now owns it. `where`: the
        machine or Ray node that runs it (default: the worker itself), shown by status and the report.
        `limit`: take it only while fewer than this many cells of its kind run under live claims (checked in
        the claim's transaction, so two workers cannot both take the last slot)."""
        now = time.time()
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT status, worker, heartbeat, kind FROM cells WHERE hash=?", (hash_,)).fetchone()
            takeable = row and (row[0] == "pending" or (row[0] == "running" and claim_is_dead(row[1], row[2], now)))
            if takeable and limit is not None:
                running = db.execute("SELECT worker, heartbeat FROM cells WHERE status='running' AND kind=? AND "
                                     "hash!=?", (row[3], hash_)).fetchall()
                takeable = sum(not claim_is_dead(w, beat, now) for w, beat in running) < limit
            if takeable:
                db.execute("UPDATE cells SET status='running', worker=?, heartbeat=?, started=?, ran_on=?, "
                           "attempts=attempts+1 WHERE hash=?", (worker, now, now, where or worker, hash_))
            db.execute("COMMIT")
            return bool(takeable)

    def heartbeat(self, hash_: str, worker: str) -> None:
        with self._db() as db:
            db.execute("UPDATE cells SET heartbeat=? WHERE hash=? AND worker=?", (time.time(), hash_, worker))

    def complete(self, hash_: str, worker: str, load_seconds: float = 0.0) -> None:
        """Mark done (after every file is written); `load_seconds`: of its time, spent loading a model."""
        now = time.time()
        with self._db() as db:
            db.execute("UPDATE cells SET status='done', finished=?, seconds=?-started, load_seconds=?, error=NULL "
                       "WHERE hash=? AND worker=?", (now, now, load_seconds, hash_, worker))

    def fail(self, hash_: str, worker: str, error: str) -> None:
        with self._db() as db:
            db.execute("UPDATE cells SET status='failed', finished=?, error=? WHERE hash=? AND worker=?",
                       (time.time(), error, hash_, worker))

    def release(self, hash_: str, worker: str) -> None:
        """Give a claimed cell back (an interrupted run): pending again, for the next run to take."""
        with self._db() as db:
            db.execute("UPDATE cells SET status='pending', worker=NULL, heartbeat=NULL WHERE hash=? AND worker=? "
                       "AND status='running'", (hash_, worker))

    def release_held(self, worker: str) -> int:
        """Give back every cell `worker` holds: an interrupt can land between a claim's commit and the code
        that knows it claimed, so the worker cannot rely on knowing which cell it holds."""
        with self._db() as db:
            return db.execute("UPDATE cells SET status='pending', worker=NULL, heartbeat=NULL WHERE worker=? AND "
                              "status='running'", (worker,)).rowcount

    # ---- reading ------------------------------------------------------------------------
    def status_of(self, hashes: Iterable[str]) -> dict[str, str]:
        """hash → status; a running cell whose worker is dead reads `stalled` (the next run takes it over)."""
        hashes, now = list(hashes), time.time()
        found: list[tuple] = []
        with self._db() as db:
            for start in range(0, len(hashes), 500):  # SQLite caps the number of bound parameters
                chunk = hashes[start:start + 500]
                found += db.execute("SELECT hash, status, worker, heartbeat FROM cells WHERE hash IN "
                                    f"({','.join('?' * len(chunk))})", chunk).fetchall()
        return {h: ("stalled" if s == "running" and claim_is_dead(w, b, now) else s) for h, s, w, b in found}

    def rows(self, experiment: str | None = None) -> list[dict[str, Any]]:
        """Every cell (of one experiment, or all), with its spec parsed and its folder."""
        query = ("SELECT hash, kind, spec, needs, status, worker, seconds, load_seconds, ran_on, error, attempts, "
                 "heartbeat FROM cells")
        args: tuple = ()
        if experiment is not None:
            query += " WHERE hash IN (SELECT hash FROM membership WHERE experiment=?)"
            args = (experiment,)
        with self._db() as db:
            found = db.execute(query, args).fetchall()
        keys = ("hash", "kind", "spec", "needs", "status", "worker", "seconds", "load_seconds", "ran_on", "error",
                "attempts", "heartbeat")
        out, now = [dict(zip(keys, r)) for r in found], time.time()
        for row in out:
            if row["status"] == "running" and claim_is_dead(row["worker"], row.pop("heartbeat"), now):
                row["status"] = "stalled"
            row.pop("heartbeat", None)
            row["cell"] = cell_from_dict(json.loads(row.pop("spec")))
            row["dir"] = str(self.cell_dir(row["hash"]))
        return out

    def experiments(self) -> list[str]:
        with self._db() as db:
            return [r[0] for r in db.execute("SELECT DISTINCT experiment FROM membership ORDER BY experiment")]
