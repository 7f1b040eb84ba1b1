"""The worker environments' cache does not only grow: each use marks an environment used, and after a build
the ones no grader used lately are removed — never the one being used, never one a live worker runs in,
never the few most recently used (another install's, a spec's other NumPy)."""

from __future__ import annotations

import os
import time

from convcheck.assignments.grader import environment as envmod


def _fake(base, name, age, now, live_pid=None):
    root = base / f"worker-{name}"
    (root / "work").mkdir(parents=True)
    (root / ".complete").write_text("")
    if live_pid is not None:
        (root / "work" / f"convcheck-sandbox-{live_pid}-ab12").mkdir()
    os.utime(root / ".complete", (now - age, now - age))
    return root


def test_old_environments_are_pruned_and_recent_or_busy_ones_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVCHECK_CACHE", str(tmp_path))
    now = time.time()
    day = 86400
    keep = _fake(tmp_path, "current", 30 * day, now)            # the one just built: kept whatever its mark
    recent = [_fake(tmp_path, f"recent{i}", i * day, now) for i in range(1, 5)]   # the 4 most recently used
    within_hour = _fake(tmp_path, "hour", 600, now)             # used 10 minutes ago
    busy = _fake(tmp_path, "busy", 40 * day, now, live_pid=os.getpid())           # a live worker runs in it
    dead = _fake(tmp_path, "deadworker", 41 * day, now, live_pid=2**22 + 12345)   # its grader is gone
    old = [_fake(tmp_path, f"old{i}", (10 + i) * day, now) for i in range(3)]
    building = tmp_path / "worker-unfinished"                   # no .complete: another grader is building it
    building.mkdir()
    died = tmp_path / ".worker-x.999.tmp"                       # a build that died two days ago
    died.mkdir()
    os.utime(died, (now - 2 * day, now - 2 * day))

    removed = envmod.prune_environments(keep=keep, now=now)

    # by last use: hour, recent1..3 are the 4 most recent; recent4 (4 days) is the fifth: removed
    assert sorted(p.name for p in removed) == sorted(p.name for p in old + [dead, recent[3]])
    for root in [keep, *recent[:3], within_hour, busy, building]:
        assert root.exists(), root
    for root in old + [dead, recent[3]]:
        assert not root.exists(), root
    assert not died.exists()
    assert not any(p.name.endswith(".retired") for p in tmp_path.iterdir())


def test_using_an_environment_marks_it_used():
    env = envmod.worker_environment()
    marker = env.root / ".complete"
    before = time.time() - 120
    os.utime(marker, (before, before))
    assert envmod.worker_environment().root == env.root
    assert marker.stat().st_mtime > before + 60
