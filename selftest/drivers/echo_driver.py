#!/usr/bin/env python3
"""A well-behaved external driver for itest's tests (selftest/t/t0701).

Speaks the JSON-lines protocol of docs/external-drivers.md.  Each `exec`
answers with the step it got, so tests can check what itest sent:

  json:   {count, pid, echo, vars, test, greeting, since}
          count: exec requests this process has served (state kept
          across steps proves one process per worker); since: count
          minus the step's `after`
  plus any members of the step's `parts` map as parts of their own;
  with {raw: true} the `parts` map alone is the result (no `json`).

The step may ask for an outcome: {fail: MSG} answers "fail", {error: MSG}
answers "error", {sleep: SECONDS} waits first.  On `open` the process
appends its pid to the file named by $PIDFILE, when set.
"""
import json
import os
import sys
import time


def answer(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    count = 0
    for line in sys.stdin:
        req = json.loads(line)
        op = req.get("op")
        if op == "open":
            pidfile = os.environ.get("PIDFILE")
            if pidfile:
                with open(pidfile, "a") as f:
                    f.write("%d\n" % os.getpid())
            answer({"status": "pass"})
        elif op == "exec":
            count += 1
            step = req.get("step")
            if not isinstance(step, dict):
                step = {"value": step}
            if "sleep" in step:
                time.sleep(float(step["sleep"]))
            if "fail" in step:
                answer({"status": "fail", "message": step["fail"]})
                continue
            if "error" in step:
                answer({"status": "error", "message": step["error"]})
                continue
            result = {
                "json": {
                    "count": count,
                    "pid": os.getpid(),
                    "echo": step,
                    "vars": req.get("vars"),
                    "test": req.get("test"),
                    "greeting": os.environ.get("GREETING"),
                    "cwd": os.getcwd(),
                    "since": count - int(step.get("after", 0)),
                }
            }
            if step.get("raw"):
                result = {}
            result.update(step.get("parts", {}))
            answer({"status": "pass", "result": result})
        elif op == "close":
            break
        else:
            answer({"status": "error", "message": "unknown op %r" % op})
    return 0


if __name__ == "__main__":
    sys.exit(main())
