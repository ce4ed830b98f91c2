#!/usr/bin/env python3
"""An example itest external driver: SQL steps against an SQLite file.

Declare it in a suite and use its name as a step key:

    drivers:
      db:
        run: [python3, sqlite_driver.py]
        env: { SQLITE_DB: "${run.dir}/shop.db" }
    tests:
      - name: an order is stored
        steps:
          - db: "create table orders (id integer primary key, qty integer)"
          - db: { sql: "insert into orders (qty) values (?)", params: [2] }
            capture: { order_id: $.lastrowid }
          - db: { sql: "select qty from orders where id = ?", params: ["${order_id}"] }
            expect: { count: 1, json: { $[0].qty: 2 } }

A step is an SQL string, or a map with `sql` and optional `params` (a
list for `?` placeholders, or a map for `:name` ones).  Each statement is
committed at once.  The result has the parts `json` and `count`: for a
query, `json` is the rows (a list of column -> value maps) and `count`
their number; for any other statement, `json` is {changes, lastrowid}
and `count` the number of changed rows.  An SQL error makes the step an
ERROR with SQLite's message.

The protocol (docs/external-drivers.md): one JSON object per line on
stdin, one answer per line on stdout; anything else goes to stderr, which
itest keeps in RUN_DIR/logs/driver-NAME-wN.log.  Python's standard
library only.
"""
import json
import os
import sqlite3
import sys


def answer(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def answer_exec(db, step):
    if isinstance(step, str):
        sql, params = step, []
    elif isinstance(step, dict) and isinstance(step.get("sql"), str):
        sql, params = step["sql"], step.get("params", [])
    else:
        return {"status": "error",
                "message": "a step is an SQL string or {sql, params}"}
    try:
        cur = db.execute(sql, params)
        rows = [dict(r) for r in cur.fetchall()]
        db.commit()
    except sqlite3.Error as e:
        return {"status": "error", "message": "sqlite: %s" % e}
    if cur.description is not None:
        return {"status": "pass",
                "result": {"json": rows, "count": len(rows)}}
    return {"status": "pass",
            "result": {"json": {"changes": cur.rowcount,
                                "lastrowid": cur.lastrowid},
                       "count": cur.rowcount}}


def main():
    db = None
    for line in sys.stdin:
        req = json.loads(line)
        op = req.get("op")
        if op == "open":
            path = os.environ.get("SQLITE_DB", ":memory:")
            try:
                db = sqlite3.connect(path)
                db.row_factory = sqlite3.Row
            except sqlite3.Error as e:
                answer({"status": "error",
                        "message": "cannot open %s: %s" % (path, e)})
                continue
            print("sqlite_driver: opened %s" % path, file=sys.stderr)
            answer({"status": "pass"})
        elif op == "exec":
            answer(answer_exec(db, req.get("step")))
        elif op == "close":
            break
    if db is not None:
        db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
