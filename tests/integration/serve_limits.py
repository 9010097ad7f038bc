#!/usr/bin/env python3
"""Hostile HTTP clients against a running kiln serve (tests/integration/serve_limits.sh).

usage: serve_limits.py PORT CHECK [ARGS...]; exits 1 with the reason on the first wrong
answer. Source addresses 127.0.0.2 and up are other clients on loopback (Linux routes all of
127/8 there)."""
import hashlib
import http.client
import json
import os
import select
import signal
import socket
import sys
import threading
import time
import urllib.parse

PORT = int(sys.argv[1])
OMAHA = ('<request protocol="3.0"><app appid="x" version="1.0" track="stable" machineid="m1">'
         '<updatecheck/></app></request>')


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def request(method, path, body=None, headers=None, source="127.0.0.1", timeout=10):
    """(status, headers, body text) of one request on a new connection."""
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout, source_address=(source, 0))
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    text = r.read().decode("utf-8", "replace")
    c.close()
    return r.status, r.getheader("Retry-After"), text


def raw(data, source="127.0.0.1"):
    """The server's whole answer to raw bytes, read until it closes the connection."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10, source_address=(source, 0))
    s.sendall(data)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out.decode("utf-8", "replace")


def login(token, source="127.0.0.1"):
    body = urllib.parse.urlencode({"token": token, "next": "/"})
    return request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"}, source)[0]


def expect(what, got, want):
    if got != want:
        fail("%s: got %r, want %r" % (what, got, want))


def check_sessions(ta, tb, tr):
    # one tenant signs in 300 times (its oldest sessions end), then mints links past its bound
    counts = {}
    for _ in range(300):
        st = login(ta)
        counts[st] = counts.get(st, 0) + 1
    expect("acme's 300 sign-ins", counts, {303: 300})
    expect("bob signs in after acme's flood", login(tb), 303)
    expect("the admin signs in after acme's flood", login(tr), 303)
    links = []
    for _ in range(20):
        links.append(request("POST", "/api/v1/login-links", headers={"Authorization": "Bearer " + tb}))
    expect("bob's 20 link requests", [x[0] for x in links], [201] * 16 + [429] * 4)
    st, retry, text = links[-1]
    if "holds 16 unused sign-in links" not in text or retry is None:
        fail("the 429 says: %s (Retry-After %r)" % (text, retry))
    expect("acme still gets a link", request("POST", "/api/v1/login-links", headers={"Authorization": "Bearer " + ta})[0], 201)
    expect("the admin too", request("POST", "/api/v1/login-links", headers={"Authorization": "Bearer " + tr})[0], 201)
    print("  300 sign-ins of one tenant: all 303, bob and the admin still sign in; bob's links: 16 x 201, then 429")


def check_failures(ta):
    bad = "kt_" + "0" * 64
    got = [login(bad, "127.0.0.7") for _ in range(25)]
    expect("25 wrong tokens from 127.0.0.7", got, [401] * 20 + [429] * 5)
    st, retry, text = request("POST", "/login", urllib.parse.urlencode({"token": ta}),
                              {"Content-Type": "application/x-www-form-urlencoded"}, "127.0.0.7")
    expect("even the right token from the refused address", st, 429)
    if "failed sign-ins" not in text or not retry:
        fail("the 429 page says: %s" % text[:300])
    expect("the right token from another address", login(ta, "127.0.0.8"), 303)
    got = [request("GET", "/api/v1/jobs", headers={"Authorization": "Bearer " + bad}, source="127.0.0.9")[0] for _ in range(22)]
    expect("22 unknown Bearer tokens from 127.0.0.9", got, [401] * 20 + [429] * 2)
    print("  wrong tokens: 20 x 401, then 429 for that address (form and Bearer); other addresses unaffected")


def check_edges(ta):
    xml = {"Content-Type": "TEXT/XML; charset=UTF-8"}
    st, _, text = request("POST", "/v1/update/", OMAHA, xml)
    expect("Omaha as TEXT/XML; charset=UTF-8", st, 200)
    if 'status="error-unknownApplication"' not in text:
        fail("the Omaha answer: %s" % text)
    expect("Omaha as application/json", request("POST", "/v1/update/", OMAHA, {"Content-Type": "application/json"})[0], 415)
    apps = '<request protocol="3.0">' + '<app appid="x" version="1"/>' * 2000 + "</request>"
    st, _, text = request("POST", "/v1/update/", apps, {"Content-Type": "text/xml"})
    expect("2000 apps (%d bytes)" % len(apps), st, 400)
    if "more than 4 apps" not in text:
        fail("the 400 says: %s" % text)
    st, _, _ = request("POST", "/v1/update/", "x" * 70000, {"Content-Type": "text/xml"})
    expect("a 70000-byte body", st, 413)
    for a, b in (('track="stable"', 'track="../../etc"'), ('version="1.0"', 'version="../../etc"'), ('machineid="m1"', 'machineid="../.."')):
        st, _, text = request("POST", "/v1/update/", OMAHA.replace(a, b), {"Content-Type": "text/xml"})
        expect("Omaha with " + b, st, 400)
    # two Content-Length fields, and Content-Length beside chunked: 400, connection closed
    for extra in (b"Content-Length: 10\r\nContent-Length: 20\r\n", b"Content-Length: 5\r\nContent-Length: 5\r\n",
                  b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"):
        out = raw(b"POST /v1/update/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n" + extra + b"\r\n0123456789" +
                  b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        if not out.startswith("HTTP/1.1 400 ") or out.count("HTTP/1.1") != 1:
            fail("%r: the server answered %r" % (extra, out[:300]))
    # the refusal speaks the path's language: the dashboard's HTML page, the API's JSON; the
    # connection is closed after it (raw reads until the server closes)
    out = raw(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd" +
              b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
    if not out.startswith("HTTP/1.1 400 ") or out.count("HTTP/1.1") != 1 or "Content-Type: text/html" not in out or \
            "2 Content-Length fields" not in out or "<html" not in out:
        fail("the dashboard with two Content-Length: %r" % out[:600])
    out = raw(b"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd" +
              b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
    if not out.startswith("HTTP/1.1 400 ") or out.count("HTTP/1.1") != 1 or "Content-Type: application/json" not in out or \
            '{"error":"the request has 2 Content-Length fields; send one","field":null}' not in out:
        fail("the API with two Content-Length: %r" % out[:600])
    # a form sent with its media type in capitals and a charset is a form
    body = urllib.parse.urlencode({"token": ta})
    st, _, _ = request("POST", "/login", body, {"Content-Type": "APPLICATION/X-WWW-FORM-URLENCODED; charset=UTF-8"}, "127.0.0.10")
    expect("the sign-in form as APPLICATION/X-WWW-FORM-URLENCODED; charset=UTF-8", st, 303)
    print("  TEXT/XML with a charset 200; 2000 apps 400; ../ in track, version, machineid 400; "
          "two Content-Length or Content-Length with chunked 400 and closed (the dashboard's page, the API's JSON)")


def check_slow(n_each):
    # idle sockets, header tricklers and body tricklers from 127.0.0.2-6
    socks = []
    for i in range(n_each * 5):
        src = "127.0.0.%d" % (2 + i % 5)
        s = socket.create_connection(("127.0.0.1", PORT), timeout=10, source_address=(src, 0))
        kind = i % 3
        if kind == 1:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        elif kind == 2:
            s.sendall(b"POST /v1/update/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 1000\r\n\r\n<req")
        socks.append((s, kind))
    t0 = time.monotonic()
    try:
        st, _, _ = request("GET", "/login", timeout=10)
        expect("a sign-in page while %d slow connections are open" % len(socks), st, 200)
        st, _, text = request("POST", "/v1/update/", OMAHA, {"Content-Type": "text/xml"}, timeout=10)
        expect("an update check meanwhile", st, 200)
    except OSError as e:
        fail("no answer within 10 s while %d slow connections are open: %s" % (len(socks), e))
    answered = time.monotonic() - t0
    # keep trickling a byte every second; the server must close every one of them
    open_ = {s: kind for s, kind in socks}
    deadline = time.monotonic() + 60
    while open_ and time.monotonic() < deadline:
        for s, kind in list(open_.items()):
            try:
                r, _, _ = select.select([s], [], [], 0)
                if r and not s.recv(4096):
                    raise ConnectionResetError
                if kind:
                    s.send(b"X" if kind == 1 else b"a")
            except OSError:
                s.close()
                del open_[s]
        time.sleep(1)
    if open_:
        fail("%d of %d slow connections still open after 60 s" % (len(open_), len(socks)))
    closed = time.monotonic() - t0
    print("  %d idle and trickling connections from 5 addresses: two requests answered meanwhile (%.1f s), "
          "all closed by the server (%.0f s)" % (len(socks), answered, closed))


def check_waiting(ta, tw, pid, n):
    """n workers long-polling and n console streams at once, more than the server's threads:
    others are still answered, a job submitted meanwhile goes to exactly one poll, the streams
    follow the console live, and SIGTERM ends the server with all of them open."""
    auth, wauth = {"Authorization": "Bearer " + ta}, {"Authorization": "Bearer " + tw}
    # a disk the server takes for one (an MBR with a partition), random after its first sector
    mbr = bytearray(512)
    mbr[446 + 4] = 0x83
    mbr[510:512] = b"\x55\xaa"
    img = bytes(mbr) + os.urandom(65536 - 512)
    st, _, text = request("POST", "/api/v1/images", img, dict(auth, **{"Content-Type": "application/octet-stream"}))
    expect("the image upload", st, 201)
    digest = hashlib.sha256(img).hexdigest()
    caps = {"caps": {"accel": "tcg", "arch": "x86_64", "cpus": 2, "memory_mb": 4096}, "slots": n}
    expect("declare", request("POST", "/api/v1/worker/declare", json.dumps(caps), wauth)[0], 200)
    claims = []

    def claim():
        st, _, text = request("POST", "/api/v1/worker/claim?wait=8", "", wauth, timeout=30)
        claims.append((st, text))
    polls = [threading.Thread(target=claim) for _ in range(n)]
    for t in polls:
        t.start()
    time.sleep(1)
    expect("a sign-in page while %d workers long-poll" % n, request("GET", "/login", timeout=10)[0], 200)
    st, _, text = request("POST", "/api/v1/jobs", json.dumps({"image": digest, "tier": 0}), auth)
    expect("a job submitted during the polls", st, 201)
    job = json.loads(text)["id"]
    for t in polls:
        t.join()
    got = sorted(st for st, _ in claims)
    expect("the %d polls' answers" % n, got, [200] + [204] * (n - 1))
    expect("the claimed job", [json.loads(t)["id"] for st, t in claims if st == 200], [job])
    w = "/api/v1/worker/jobs/%d/" % job
    expect("advance", request("POST", w + "advance", json.dumps({"state": "running"}), wauth)[0], 200)
    expect("console", request("POST", w + "console", "first line\n", wauth)[0], 200)
    seen = [b""] * n
    ended = [False] * n

    def follow(i):
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        c.request("GET", "/api/v1/jobs/%d/console" % job, headers=auth)
        r = c.getresponse()
        try:
            while True:
                b = r.read1(4096)
                if not b:
                    break
                seen[i] += b
            ended[i] = True
        except OSError:
            pass
        c.close()
    streams = [threading.Thread(target=follow, args=(i,)) for i in range(n)]
    for t in streams:
        t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(b"first line" in x for x in seen):
        time.sleep(0.2)
    expect("streams holding the first line", sum(b"first line" in x for x in seen), n)
    expect("a sign-in page while %d console streams are open" % n, request("GET", "/login", timeout=10)[0], 200)
    expect("more console", request("POST", w + "console", "second line\n", wauth)[0], 200)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(b"second line" in x for x in seen):
        time.sleep(0.2)
    expect("streams that followed the second line live", sum(b"second line" in x for x in seen), n)
    os.kill(pid, signal.SIGTERM)
    for t in streams:
        t.join(60)
    expect("streams ended by the server's stop", sum(ended), n)
    print("  %d long polls and %d live console streams at once: others answered, the job to exactly one poll, "
          "the streams followed live and ended on SIGTERM" % (n, n))


check = sys.argv[2]
if check == "sessions":
    check_sessions(*sys.argv[3:6])
elif check == "failures":
    check_failures(sys.argv[3])
elif check == "edges":
    check_edges(sys.argv[3])
elif check == "waiting":
    check_waiting(sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
elif check == "slow":
    check_slow(int(sys.argv[3]))
else:
    fail("unknown check " + check)
