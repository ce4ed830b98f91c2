#!/usr/bin/env python3
"""A misbehaving external driver for itest's tests (selftest/t/t0701).

Opens normally (appending its pid to $PIDFILE when set, and refusing to
open when $REFUSE_OPEN is set), then does what each step asks:

  {crash: N}    writes a line to stderr and exits with status N mid-step
  {hang: S}     touches $HANGFILE (when set), then sleeps S seconds
                without answering
  {garbage: T}  answers the text T, which is not JSON
  {twice: true} answers twice to one request
  anything else answers "pass" with {"json": {"pid": PID}}
"""
import json
import os
import sys
import time


def answer(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main():
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("op") == "open":
            if os.environ.get("REFUSE_OPEN"):
                answer(json.dumps({"status": "error",
                                   "message": os.environ["REFUSE_OPEN"]}))
                continue
            pidfile = os.environ.get("PIDFILE")
            if pidfile:
                with open(pidfile, "a") as f:
                    f.write("%d\n" % os.getpid())
            answer(json.dumps({"status": "pass"}))
            continue
        if req.get("op") == "close":
            return 0
        step = req.get("step") or {}
        if "crash" in step:
            sys.stderr.write("bad_driver: crashing on purpose\n")
            sys.stderr.flush()
            os._exit(int(step["crash"]))
        if "hang" in step:
            if os.environ.get("HANGFILE"):
                open(os.environ["HANGFILE"], "w").close()
            time.sleep(float(step["hang"]))
        if "garbage" in step:
            answer(str(step["garbage"]))
            continue
        out = json.dumps({"status": "pass",
                          "result": {"json": {"pid": os.getpid()}}})
        answer(out)
        if step.get("twice"):
            answer(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
