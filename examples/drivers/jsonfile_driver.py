#!/usr/bin/env python3
"""An example itest external driver: read a JSON file that the system
under test keeps, so that expectations can look inside it.

    drivers:
      datafile: { run: [python3, jsonfile_driver.py] }
    tests:
      - name: the stock is written down
        steps:
          - datafile: "${run.dir}/inventory/stock.json"
            expect: { json: { $.A1.stock: 8 } }

A step is the file's path (or a map with `path`).  The result has the
parts `json` (the file's content), `bytes` (its size) and `mtime` (when
it was last written, seconds since the epoch).  A missing file or one
that is not JSON makes the step an ERROR.

The protocol (docs/external-drivers.md): one JSON object per line on
stdin, one answer per line on stdout.  Python's standard library only.
"""
import json
import os
import sys


def answer(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def answer_exec(step):
    path = step.get("path") if isinstance(step, dict) else step
    if not isinstance(path, str) or not path:
        return {"status": "error",
                "message": "a step is a file path or {path: ...}"}
    try:
        with open(path, "rb") as f:
            data = f.read()
        st = os.stat(path)
    except OSError as e:
        return {"status": "error", "message": "cannot read %s: %s"
                % (path, e.strerror)}
    try:
        doc = json.loads(data)
    except ValueError as e:
        return {"status": "error", "message": "%s is not JSON: %s"
                % (path, e)}
    return {"status": "pass",
            "result": {"json": doc, "bytes": len(data),
                       "mtime": int(st.st_mtime)}}


def main():
    for line in sys.stdin:
        req = json.loads(line)
        op = req.get("op")
        if op == "open":
            answer({"status": "pass"})
        elif op == "exec":
            answer(answer_exec(req.get("step")))
        elif op == "close":
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
