"""Replies are hostile data: bounded before anything is built, checked against the shape the call expects.

Each submission here writes forged frames straight into the grader's reply pipe (its number is on the
worker's command line) or returns values built to exhaust the grader: the grader must answer with a
clear error within the call's deadline, without large memory, and keep its reports small.
"""

from __future__ import annotations

import json
import resource
import struct
import textwrap
import time

import numpy as np
import pytest

from convcheck.assignments.grader import grade
from convcheck.assignments.grader.sandbox import BadReturn, Sandbox, StudentException, WorkerCrashed
from convcheck.assignments.grader.worker import wire

FORGER = textwrap.dedent('''
    import os, struct, sys

    def _send(structure, data=b""):
        body = struct.pack(">Q", len(structure)) + structure + data
        frame = struct.pack(">4sQ", b"CCW1", len(body)) + body
        fd = int(sys.argv[2])
        view = memoryview(frame)
        while view:
            view = view[os.write(fd, view):]

    def lists(_):                      # 64 MiB of empty lists: 3.3 GB once built, before the bounds
        _send(b'{"d":[["op",' + b"[]," * (21 * 2**20) + b'[]]]}')
        return 0

    def colliding_keys(n):             # int keys that all hash alike: quadratic dict building, before the bounds
        keys = ",".join('[{"i":"%d"},null]' % (i * (2**61 - 1)) for i in range(n))
        _send(('{"d":[["op",{"s":"result"}],["value",{"d":[' + keys + ']}]]}').encode())
        return 0

    def deep(_):
        _send(b"[" * 100_000 + b"]" * 100_000)
        return 0

    def huge_error(_):                 # a forged error reply with a 25 MiB message
        msg = "x" * (25 * 2**20)
        _send(('{"d":[["op","error"],["id",{"i":"1"}],["kind","exception"],["message","' + msg
               + '"],["output",""]]}').encode())
        return 0

    def extra_field(_):                # a reply with a field no reply has
        _send(b'{"d":[["op","result"],["id",{"i":"1"}],["value",null],["mutated",[]],["output",""],'
              b'["seconds",{"f":"0x0.0p+0"}],["admin",true]]}')
        return 0

    def ok(x):
        return x + 1

    def long_string(_):
        return "y" * (60 * 2**20)

    def long_message(_):
        raise ValueError("z" * (25 * 2**20))
''')


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("function, arg", [("lists", 0), ("colliding_keys", 300_000), ("deep", 0),
                                           ("huge_error", 0), ("extra_field", 0)])
def test_forged_reply_bombs_cost_the_grader_little(function, arg):
    before = _peak_rss_mb()
    start = time.monotonic()
    with Sandbox.from_source(FORGER, call_timeout=20, max_return_mb=80) as sb:
        with pytest.raises(WorkerCrashed, match="malformed"):
            sb.call(function, arg)
        assert sb.call("ok", 1).value == 2 and sb.restarts == 1  # a fresh worker answers again
    assert time.monotonic() - start < 30
    assert _peak_rss_mb() - before < 1024


def test_a_huge_returned_string_or_message_is_refused_or_cut():
    with Sandbox.from_source(FORGER, call_timeout=20) as sb:
        with pytest.raises(BadReturn, match="a string of 62914560 characters"):
            sb.call("long_string", 0)
        with pytest.raises(StudentException) as e:
            sb.call("long_message", 0)
    assert len(str(e.value)) < 2600 and len(e.value.traceback) < 4100


def test_results_json_stays_small_for_a_flooding_submission(tmp_path):
    path = tmp_path / "layers.py"
    path.write_text(textwrap.dedent('''
        import numpy as np

        def relu_forward(x):
            print("p" * 10_000_000)
            raise ValueError("z" * 25_000_000)

        def relu_backward(dout, cache):
            return "y" * 60_000_000
    '''))
    report = grade(path, "layers", max_examples=3)
    size = len(json.dumps(report.to_gradescope()))
    assert size < 1_000_000, size
    assert len(report.to_json()) < 1_000_000


def test_only_string_dict_keys_travel():
    with pytest.raises(wire.WireError, match="keys that are not strings"):
        wire.encode({1: 2})
    body = b'{"d":[[{"i":"1"},null]]}'
    with pytest.raises(wire.WireError, match="not a string"):
        wire.decode(struct.pack(">Q", len(body)) + body)


def test_decoding_respects_its_deadline():
    value = [[0] * 50 for _ in range(1500)]
    data = wire.encode(value)[wire.HEADER.size:]
    with pytest.raises(wire.WireTimeout):
        wire.decode(data, deadline=time.monotonic() - 1)
    assert wire.decode(data, deadline=time.monotonic() + 60) == value


def test_arrays_still_travel_whole():
    x = np.random.default_rng(0).normal(size=(64, 64, 16))
    with Sandbox.from_source("def f(x):\n    return x * 2\n") as sb:
        np.testing.assert_array_equal(sb.call("f", x).value, x * 2)
