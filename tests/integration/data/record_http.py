#!/usr/bin/env python3
"""record_http.py - one HTTPS request to tollgate's management API, for the test_record_* scripts.

    record_http.py METHOD URL CACERT TOKEN_FILE|- BODY_FILE|- OUT_FILE [TIMEOUT_S]

Pins the appliance's certificate (CACERT), sends "Authorization: Bearer <token>" when
TOKEN_FILE is not "-", the body of BODY_FILE (JSON) when it is not "-", writes the
answer's body to OUT_FILE and prints the HTTP status on stdout ("000" when there was
no answer). Exit status 0 when an answer came, 3 when none did. Standard library only.
"""
import http.client
import ssl
import sys
import urllib.parse


def main():
    if len(sys.argv) not in (7, 8):
        print(__doc__, file=sys.stderr)
        return 2
    method, url, cacert, token_file, body_file, out_file = sys.argv[1:7]
    timeout = float(sys.argv[7]) if len(sys.argv) == 8 else 10.0
    u = urllib.parse.urlsplit(url)
    headers = {}
    if token_file != "-":
        with open(token_file, encoding="utf-8") as f:
            headers["Authorization"] = "Bearer " + f.readline().strip()
    body = None
    if body_file != "-":
        with open(body_file, "rb") as f:
            body = f.read()
        headers["Content-Type"] = "application/json"
    ctx = ssl.create_default_context(cafile=cacert)
    path = u.path + ("?" + u.query if u.query else "")
    try:
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout, context=ctx)
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
    except (OSError, http.client.HTTPException) as e:
        with open(out_file, "w", encoding="utf-8") as f:
            f.write(str(e) + "\n")
        print("000")
        return 3
    with open(out_file, "wb") as f:
        f.write(data)
    print(resp.status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
