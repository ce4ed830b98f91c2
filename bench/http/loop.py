"""The Python peer of bench/http/run: N sequential GETs on one kept-alive
http.client connection, each checking the status and two JSON values,
as the itest suite's steps do.  Usage: loop.py HOST PORT PATH N"""
import http.client
import json
import sys


def main():
    host, port, path, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    conn = http.client.HTTPConnection(host, port)
    for _ in range(n):
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            sys.exit("status %d" % resp.status)
        doc = json.loads(body)
        if doc["a"] != 1 or doc["b"]["c"] != "x":
            sys.exit("unexpected body %r" % body)
    conn.close()


if __name__ == "__main__":
    main()
