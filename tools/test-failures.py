#!/usr/bin/env python3
"""Prints, for each failed or timed-out test in the given meson build directories, its name,
result, duration and the last lines of its output: the CI log shows only its tail, so the
summary of tools/test.sh ends with this digest.

    test-failures.py BUILDDIR...
"""
import json
import os
import sys

TAIL = 40


def main():
    for builddir in sys.argv[1:]:
        path = os.path.join(builddir, "meson-logs", "testlog.json")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                t = json.loads(line)
                if t.get("result") in ("OK", "SKIP", "EXPECTEDFAIL"):
                    continue
                print(f"\n---- {builddir}: {t['name']} {t['result']} "
                      f"after {t.get('duration', 0):.1f} s ----")
                out = (t.get("stdout") or "") + (t.get("stderr") or "")
                print("\n".join(out.rstrip().splitlines()[-TAIL:]))


if __name__ == "__main__":
    main()
