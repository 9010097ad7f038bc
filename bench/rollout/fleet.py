#!/usr/bin/env python3
"""A fleet of simulated Omaha v3 clients against kiln serve --gallery (no VMs).

usage: fleet.py URL NAME CHANNEL RUNNING N SEED [--fail K] [--json]
  N clients with random machine ids (seeded) each send an update check; every one is then
  asked again (the answer must not change); the first K offered report a failure event.
  Prints one JSON line: offered, same_answer, failures_sent, requests, seconds, rps, ids."""
import json, random, sys, time, urllib.request
import xml.etree.ElementTree as ET

def request(url, body):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "text/xml"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()

def doc(name, channel, running, mid, check=True, event=None):
    root = ET.Element("request", protocol="3.0", version="kiln-fleet-1")
    ET.SubElement(root, "os", platform="Linux")
    app = ET.SubElement(root, "app", appid=name, version=running, track=channel, machineid=mid)
    if check:
        ET.SubElement(app, "ping", active="1")
        ET.SubElement(app, "updatecheck")
    if event:
        ET.SubElement(app, "event", **event)
    return ET.tostring(root, xml_declaration=True, encoding="UTF-8")

def offered(xml):
    uc = ET.fromstring(xml).find("app/updatecheck")
    if uc is None or uc.get("status") != "ok":
        return None
    return uc.find("manifest").get("version")

def main():
    a = sys.argv[1:]
    url, name, channel, running, n, seed = a[0], a[1], a[2], a[3], int(a[4]), int(a[5])
    fail = int(a[a.index("--fail") + 1]) if "--fail" in a else 0
    rnd = random.Random(seed)
    ids = ["%032x" % rnd.getrandbits(128) for _ in range(n)]
    t0 = time.monotonic()
    first = [offered(request(url, doc(name, channel, running, m))) for m in ids]
    second = [offered(request(url, doc(name, channel, running, m))) for m in ids]
    reqs = 2 * n
    sent = 0
    for m, v in zip(ids, first):
        if v and sent < fail:
            request(url, doc(name, channel, running, m, check=False,
                             event={"eventtype": "3", "eventresult": "0", "errorcode": "7", "previousversion": running}))
            sent += 1
            reqs += 1
    secs = time.monotonic() - t0
    out = {"clients": n, "offered": sum(1 for v in first if v), "versions": sorted({v for v in first if v}),
           "same_answer": sum(1 for x, y in zip(first, second) if x == y), "failures_sent": sent,
           "requests": reqs, "seconds": round(secs, 3), "rps": round(reqs / secs, 1),
           "offered_ids": [m for m, v in zip(ids, first) if v]}
    print(json.dumps(out))

if __name__ == "__main__":
    main()
