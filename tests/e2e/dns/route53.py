#!/usr/bin/env python3
"""route53.py [--fast] [--load FILE] PORTFILE LOG ZONE_ID=NAME...: a stand-in for Amazon Route53's
REST/XML API (version 2013-04-01) on 127.0.0.1, for the terraform tests.
The hashicorp/aws provider reaches it through `endpoints { route53 = ... }`
with dummy credentials; requests are not authenticated (the signature is
ignored), nothing leaves the machine.

It listens on a free port (written to PORTFILE once it listens), holds each
hosted zone's record sets in memory (a new zone has its SOA and NS sets,
as Route53 makes them), and logs one line per request ("POST
/2013-04-01/hostedzone/Z1/rrset/ ChangeResourceRecordSets") to LOG.

The calls the provider makes for aws_route53_record (observed with
hashicorp/aws 5.x), as Route53's API reference documents them:
  GET  /2013-04-01/hostedzone/ID                 GetHostedZone
  GET  /2013-04-01/hostedzone/ID/rrset?name=&type=&identifier=&maxitems=
                                                 ListResourceRecordSets
  POST /2013-04-01/hostedzone/ID/rrset/          ChangeResourceRecordSets
       (the whole batch is refused, nothing applied, when one change
       fails: CREATE of a set that exists, DELETE of one that does not
       or whose values differ -> InvalidChangeBatch, 400)
  GET  /2013-04-01/change/ID                     GetChange (always INSYNC)
Anything else is answered 400 with an error the provider shows, and
logged as "UNKNOWN ...", so a test sees what is missing.

--fast: ChangeResourceRecordSets answers without its ChangeInfo.  Real
Route53 always sends one, and the provider then waits 10 to 30 s (a random
delay, by design) before its first GetChange, for every record; without
it, the provider does not wait.  The tests use it where the wait would
only cost time; one apply runs without it.
--load FILE: start with the record sets of FILE (what /_dump wrote).

For the tests (not Route53's):
  GET  /_dump          every zone's record sets as JSON:
                       {"ZONE_ID": {"name.": {"TYPE": {"ttl": N, "records": [...]}}}}
                       (SOA and apex NS left out)
  POST /_set           a JSON body {"zone": ID, "name": "x.example.com.",
                       "type": "A", "ttl": 300, "records": [...]} sets one
                       record set behind Terraform's back; "records": []
                       deletes it ("someone changed it by hand")
  POST /_fail          a JSON body {"message": "..."}: the next
                       ChangeResourceRecordSets is refused with that
                       message (InvalidChangeBatch) -- with "name":
                       "api.example.com", the next one that changes that
                       name (Terraform sends changes side by side, in no
                       fixed order); with "on": "read",
                       every ListResourceRecordSets is (InvalidInput)
                       until {} clears it
  GET  /_calls         how many ChangeResourceRecordSets were applied
  POST /_hold          a JSON body {"changes": N}: the next N
                       ChangeResourceRecordSets are applied, logged as
                       "held", and not answered until /_release (a
                       `terraform apply` caught half-way, for the crash
                       tests); {"changes": 0} holds none
  POST /_release       answers every held request
"""
import http.server
import json
import socketserver
import sys
import threading
import urllib.parse
import xml.etree.ElementTree as ET

NS = "https://route53.amazonaws.com/doc/2013-04-01/"
LOCK = threading.RLock()
ZONES = {}          # id -> {"name": "example.com.", "sets": {(name, type): {"ttl", "records"}}}
STATE = {"fail": None, "fail_read": None, "changes": 0, "change_seq": 0, "fast": False,
         "hold": 0}
RELEASE = threading.Event()
LOG = None


def esc(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def fqdn(name):
    name = name.lower()
    # Route53 answers with \052 for a leading "*", and \100-style escapes
    # for other characters; the provider normalises both.
    return name if name.endswith(".") else name + "."


def wire_name(name):
    return name.replace("*", "\\052", 1) if name.startswith("*") else name


def un_wire(name):
    return name.replace("\\052", "*")


def zone_of(zid):
    zid = zid.split("/")[-1]
    return zid, ZONES.get(zid)


def error(handler, status, code, message):
    body = ('<?xml version="1.0"?>\n<ErrorResponse xmlns="%s"><Error><Type>Sender</Type>'
            '<Code>%s</Code><Message>%s</Message></Error><RequestId>fb-stand-in</RequestId>'
            '</ErrorResponse>' % (NS, code, esc(message)))
    handler.reply(status, body)


def hosted_zone_xml(zid, z):
    return ('<HostedZone><Id>/hostedzone/%s</Id><Name>%s</Name><CallerReference>fb</CallerReference>'
            '<Config><PrivateZone>false</PrivateZone></Config>'
            '<ResourceRecordSetCount>%d</ResourceRecordSetCount></HostedZone>'
            % (zid, z["name"], len(z["sets"])))


def rrset_xml(name, typ, s):
    recs = "".join("<ResourceRecord><Value>%s</Value></ResourceRecord>" % esc(v)
                   for v in s["records"])
    return ('<ResourceRecordSet><Name>%s</Name><Type>%s</Type><TTL>%d</TTL>'
            '<ResourceRecords>%s</ResourceRecords></ResourceRecordSet>'
            % (esc(wire_name(name)), typ, s["ttl"], recs))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def say(self, what):
        with LOCK:
            LOG.write("%s %s %s\n" % (self.command, self.path.split("?")[0], what))
            LOG.flush()

    def reply(self, status, body, ctype="text/xml"):
        data = body.encode()
        # One request per connection: no idle connection for a client to
        # reuse just as the server closes it (the SDK would resend a POST).
        self.close_connection = True
        self.send_response(status)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", "fb-stand-in")
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        parts = [p for p in u.path.split("/") if p]
        with LOCK:
            if u.path == "/_dump":
                self.reply(200, json.dumps(dump(), sort_keys=True), "application/json")
                return
            if u.path == "/_calls":
                self.reply(200, json.dumps({"changes": STATE["changes"]}), "application/json")
                return
            if len(parts) == 3 and parts[1] == "hostedzone":
                self.say("GetHostedZone")
                zid, z = zone_of(parts[2])
                if not z:
                    return error(self, 404, "NoSuchHostedZone", "No hosted zone found with ID: " + zid)
                body = ('<?xml version="1.0"?>\n<GetHostedZoneResponse xmlns="%s">%s'
                        '<DelegationSet><NameServers><NameServer>ns-1.awsdns.test</NameServer>'
                        '</NameServers></DelegationSet></GetHostedZoneResponse>'
                        % (NS, hosted_zone_xml(zid, z)))
                return self.reply(200, body)
            if len(parts) == 4 and parts[1] == "hostedzone" and parts[3] == "rrset":
                self.say("ListResourceRecordSets")
                if STATE["fail_read"]:
                    return error(self, 400, "InvalidInput", STATE["fail_read"])
                zid, z = zone_of(parts[2])
                if not z:
                    return error(self, 404, "NoSuchHostedZone", "No hosted zone found with ID: " + zid)
                return self.list_rrsets(z, q)
            if len(parts) == 3 and parts[1] == "change":
                self.say("GetChange")
                body = ('<?xml version="1.0"?>\n<GetChangeResponse xmlns="%s"><ChangeInfo>'
                        '<Id>/change/%s</Id><Status>INSYNC</Status>'
                        '<SubmittedAt>2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo>'
                        '</GetChangeResponse>' % (NS, parts[2]))
                return self.reply(200, body)
        self.say("UNKNOWN " + self.path)
        error(self, 400, "InvalidInput", "the Route53 stand-in does not implement GET " + u.path)

    def list_rrsets(self, z, q):
        # Record sets in Route53's order: by name with labels reversed, then type.
        def key(k):
            return (".".join(reversed(k[0].rstrip(".").split("."))), k[1])
        keys = sorted(z["sets"].keys(), key=key)
        start_name = q.get("name", [None])[0]
        start_type = q.get("type", [None])[0]
        maxitems = int(q.get("maxitems", ["300"])[0])
        if start_name:
            sk = (fqdn(un_wire(start_name)), start_type or "")
            keys = [k for k in keys if key(k) >= key(sk)]
        page, rest = keys[:maxitems], keys[maxitems:]
        sets = "".join(rrset_xml(n, t, z["sets"][(n, t)]) for n, t in page)
        more = ""
        if rest:
            more = ("<NextRecordName>%s</NextRecordName><NextRecordType>%s</NextRecordType>"
                    % (esc(wire_name(rest[0][0])), rest[0][1]))
        body = ('<?xml version="1.0"?>\n<ListResourceRecordSetsResponse xmlns="%s">'
                '<ResourceRecordSets>%s</ResourceRecordSets><IsTruncated>%s</IsTruncated>%s'
                '<MaxItems>%d</MaxItems></ListResourceRecordSetsResponse>'
                % (NS, sets, "true" if rest else "false", more, maxitems))
        self.reply(200, body)

    def do_POST(self):
        self.held = None
        self.post()
        if self.held is not None:
            # Applied, not answered: outside the lock, so the test's own
            # calls (and other requests) go on meanwhile.
            RELEASE.wait()
            try:
                self.reply(200, self.held)
            except OSError:
                pass        # the client was killed meanwhile

    def post(self):
        u = urllib.parse.urlparse(self.path)
        parts = [p for p in u.path.split("/") if p]
        data = self.body()
        with LOCK:
            if u.path == "/_hold":
                STATE["hold"] = int(json.loads(data).get("changes", 0))
                RELEASE.clear()
                return self.reply(200, "{}", "application/json")
            if u.path == "/_release":
                STATE["hold"] = 0
                RELEASE.set()
                self.say("released")
                return self.reply(200, "{}", "application/json")
            if u.path == "/_set":
                r = json.loads(data)
                z = ZONES[r["zone"]]
                k = (fqdn(r["name"]), r["type"])
                if r["records"]:
                    z["sets"][k] = {"ttl": r.get("ttl", 300), "records": list(r["records"])}
                else:
                    z["sets"].pop(k, None)
                self.say("set by the test")
                return self.reply(200, "{}", "application/json")
            if u.path == "/_fail":
                r = json.loads(data)
                STATE["fail"] = r.get("message") if r.get("on", "change") == "change" else None
                STATE["fail_name"] = fqdn(r["name"]) if r.get("name") else None
                STATE["fail_read"] = r.get("message") if r.get("on") == "read" else None
                return self.reply(200, "{}", "application/json")
            if len(parts) == 4 and parts[1] == "hostedzone" and parts[3] == "rrset":
                self.say("ChangeResourceRecordSets")
                zid, z = zone_of(parts[2])
                if not z:
                    return error(self, 404, "NoSuchHostedZone", "No hosted zone found with ID: " + zid)
                return self.change(z, data)
        self.say("UNKNOWN " + self.path)
        error(self, 400, "InvalidInput", "the Route53 stand-in does not implement POST " + u.path)

    def change(self, z, data):
        root = ET.fromstring(data)
        names = [fqdn(un_wire(n.text)) for n in root.iter("{%s}Name" % NS)]
        if STATE["fail"] and (not STATE.get("fail_name") or STATE["fail_name"] in names):
            msg, STATE["fail"] = STATE["fail"], None
            return error(self, 400, "InvalidChangeBatch", msg)
        sets = dict(z["sets"])
        for ch in root.iter("{%s}Change" % NS):
            action = ch.find("{%s}Action" % NS).text
            rs = ch.find("{%s}ResourceRecordSet" % NS)
            name = fqdn(un_wire(rs.find("{%s}Name" % NS).text))
            typ = rs.find("{%s}Type" % NS).text
            ttl_el = rs.find("{%s}TTL" % NS)
            recs = [v.text for v in rs.iter("{%s}Value" % NS)]
            s = {"ttl": int(ttl_el.text) if ttl_el is not None else 300, "records": recs}
            k = (name, typ)
            if not name.endswith(z["name"]):
                return error(self, 400, "InvalidChangeBatch",
                             "RRSet with DNS name %s is not permitted in zone %s" % (name, z["name"]))
            if action == "CREATE":
                # The same record set again is a request the SDK resent
                # (its answer was lost): Route53 would refuse it, which only
                # makes a test flaky; anything else that exists is refused.
                if k in sets and sets[k] != s:
                    return error(self, 400, "InvalidChangeBatch",
                                 "[Tried to create resource record set [name='%s', type='%s'] "
                                 "but it already exists]" % (name, typ))
                sets[k] = s
            elif action == "DELETE":
                if k not in sets or sets[k] != s:
                    return error(self, 400, "InvalidChangeBatch",
                                 "[Tried to delete resource record set [name='%s', type='%s'] "
                                 "but it was not found]" % (name, typ))
                del sets[k]
            elif action == "UPSERT":
                sets[k] = s
            else:
                return error(self, 400, "InvalidInput", "unknown action " + action)
        z["sets"] = sets
        self.say("applied " + " ".join("%s %s %s" % (ch.find("{%s}Action" % NS).text,
            ch.find("{%s}ResourceRecordSet/{%s}Name" % (NS, NS)).text,
            ch.find("{%s}ResourceRecordSet/{%s}Type" % (NS, NS)).text) for ch in root.iter("{%s}Change" % NS)))
        STATE["changes"] += 1
        STATE["change_seq"] += 1
        info = ('<ChangeInfo><Id>/change/C%d</Id><Status>PENDING</Status>'
                '<SubmittedAt>2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo>'
                % STATE["change_seq"])
        body = ('<?xml version="1.0"?>\n<ChangeResourceRecordSetsResponse xmlns="%s">%s'
                '</ChangeResourceRecordSetsResponse>' % (NS, "" if STATE["fast"] else info))
        if STATE["hold"] > 0:
            STATE["hold"] -= 1
            self.say("held")
            self.held = body
            return
        self.reply(200, body)


def dump():
    out = {}
    for zid, z in ZONES.items():
        d = {}
        for (n, t), s in z["sets"].items():
            if t == "SOA" or (t == "NS" and n == z["name"]):
                continue
            d.setdefault(n, {})[t] = {"ttl": s["ttl"], "records": sorted(s["records"])}
        out[zid] = d
    return out


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global LOG
    args = sys.argv[1:]
    load = None
    while args and args[0].startswith("--"):
        if args[0] == "--fast":
            STATE["fast"] = True
            args = args[1:]
        elif args[0] == "--load":
            load, args = args[1], args[2:]
        else:
            sys.exit("route53.py: unknown option " + args[0])
    portfile, logpath = args[0], args[1]
    for arg in args[2:]:
        zid, name = arg.split("=", 1)
        name = fqdn(name)
        ZONES[zid] = {"name": name, "sets": {
            (name, "SOA"): {"ttl": 900, "records": [
                "ns-1.awsdns.test. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"]},
            (name, "NS"): {"ttl": 172800, "records": ["ns-1.awsdns.test."]},
        }}
    if load:
        with open(load) as f:
            for zid, names in json.load(f).items():
                for name, types in names.items():
                    for typ, rs in types.items():
                        ZONES[zid]["sets"][(fqdn(name), typ)] = {
                            "ttl": rs["ttl"], "records": list(rs["records"])}
    LOG = open(logpath, "a")
    srv = Server(("127.0.0.1", 0), Handler)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    import os
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
