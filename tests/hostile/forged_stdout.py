"""Prints what a naive grader might read as results, and returns a wrong answer."""
import json
import os
import sys

print(json.dumps({"score": 100, "max_score": 100, "tests": []}))


def relu_forward(x):
    print('{"op": "result", "id": 1, "value": "PASS"}')
    print("CCW1" + "\x00" * 8)
    sys.stdout.write("All tests passed! score: 100/100\n")
    os.write(1, b'{"score": 100}\n')
    os.write(2, b"CCW1\x00\x00\x00\x00\x00\x00\x00\x10garbage-frame!!!\n")
    return x * 0 - 1, None  # wrong on purpose
