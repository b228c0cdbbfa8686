#!/usr/bin/env python3
"""tf2zone.py ZONE TFJSON SERIAL [NS...]: a BIND zone file (on stdout)
holding what a rendered terraform/route53/<zone>.tf.json says, plus an
SOA with SERIAL and the apex NS set (default ns1.nameservers.test., outside every test zone, so BIND needs no address for it).  The e2e tests
start BIND on the release firebreak has applied, so the first apply finds
no drift.  TXT values are the text itself (firebreak's rule), quoted and
split into 255-byte strings here; Terraform's "$${" / "%%{" are undone."""
import json
import sys


def unescape(s):
    return s.replace("$${", "${").replace("%%{", "%{")


def txt(v):
    b = v.encode()
    parts = [b[i:i + 255] for i in range(0, max(len(b), 1), 255)]
    out = []
    for p in parts:
        s = p.decode("utf-8", "surrogateescape")
        out.append('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return " ".join(out)


def main():
    zone, path, serial = sys.argv[1], sys.argv[2], sys.argv[3]
    ns = sys.argv[4:] or ["ns1.nameservers.test."]
    with open(path) as f:
        doc = json.load(f)
    print("$TTL 300")
    print("@ IN SOA %s hostmaster.%s. %s 3600 600 86400 300" % (ns[0], zone, serial))
    for n in ns:
        print("@ IN NS %s" % n)
    recs = doc.get("resource", {}).get("aws_route53_record", {})
    for label in sorted(recs):
        r = recs[label]
        if r["name"] == zone and r["type"] == "NS":
            continue
        for v in r["records"]:
            v = unescape(v)
            if r["type"] == "TXT":
                v = txt(v)
            elif r["type"] in ("CNAME", "NS", "PTR") and not v.endswith("."):
                v += "."
            print("%s. %d IN %s %s" % (r["name"], r["ttl"], r["type"], v))


main()
