#!/usr/bin/env python3
"""tf2zone.py ZONE TFJSON SERIAL [NS...]: a BIND zone file (on stdout)
holding what a rendered terraform/route53/<zone>.tf.json says, plus an
SOA with SERIAL and the apex NS set (default ns1.nameservers.test., outside every test zone, so BIND needs no address for it).  The e2e tests
start BIND on the release firebreak has applied, so the first apply finds
no drift.  TXT values are Route53's text as the renderer writes it ('\\'
escapes, "" between 255-byte strings), written here as BIND's quoted
strings; Terraform's "$${" / "%%{" are undone."""
import json
import sys


def unescape(s):
    return s.replace("$${", "${").replace("%%{", "%{")


def txt(v):
    parts, cur, i = [], "", 0
    while i < len(v):
        if v[i] == '"' and v[i + 1:i + 2] == '"':
            parts.append(cur)
            cur, i = "", i + 2
            continue
        if v[i] == "\\" and i + 1 < len(v):
            cur += v[i:i + 2]
            i += 2
            continue
        cur += v[i]
        i += 1
    parts.append(cur)
    return " ".join('"' + p + '"' for p in parts)


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
