#!/usr/bin/env python3
"""Capture real-world DNS wire-format messages as test fixtures.

HOW TO RUN (Debian bookworm, as root, loopback only, no internet needed):

    apt-get install dnsutils knot-dnsutils unbound nsd knot
    python3 wire/tests/vectors/capture.py            # from the repo root

Options:
    --out DIR    where to write the *.bin fixtures and SOURCES.md
                 (default: the directory containing this script)
    --work DIR   scratch directory for zone/config/state files
                 (default: /tmp/vectors-work; wiped and recreated)

What it does (stdlib only, the DNS programs are the Debian ones):

  * writes the zone xcc.test. (see ZONE below) and starts, in the
    foreground with private config files under --work (nothing under /etc):
        knotd   on 127.0.0.1:25353
        nsd     on 127.0.0.1:25354
  * starts two tiny *recording UDP proxies*:
        127.0.0.1:25300 -> knotd      127.0.0.1:25301 -> nsd
    Every datagram a client sends to a proxy is stored byte-for-byte,
    forwarded to the server, and the server's raw reply is stored and
    relayed back (so clients get a real answer and never hang).
  * runs dig / kdig against the proxies -> "<client>-*.query.bin"
    (exact bytes the client put on the wire) and, for the server
    answers, "<server>-*.response.bin" (exact bytes the server sent
    back in reply to a dig query).
  * starts unbound (127.0.0.1:25310) with a forward-zone / stub-zone for
    xcc.test pointing at the knotd proxy, sends dig to unbound and stores
    what unbound sent upstream -> "unbound-*.query.bin".
  * checks every file is a well-formed DNS message (full section walk),
    writes SOURCES.md (versions, commands, configs, zone, decoded
    summary of every file) and stops every daemon it started (by PID).

Each .bin holds exactly one DNS message (the UDP payload, no TCP length
prefix).  Message IDs, dig's client cookie and unbound's 0x20 casing are
random, so a re-run gives different bytes but the same kinds of message.
Ports used: 25300, 25301, 25310, 25353, 25354 (+ unbound's outgoing
UDP ports restricted to 25320-25339).
"""

import argparse
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"
PORT_PROXY_KNOT = 25300
PORT_PROXY_NSD = 25301
PORT_UNBOUND = 25310
PORT_KNOTD = 25353
PORT_NSD = 25354

WILD = "kuard.gateway.cluster-a.dev-team.clusters.xcc.test"
WILD_MIXED = "KuArD.GateWay.cluster-a.dev-team.clusters.xcc.test"

ZONE = """$ORIGIN xcc.test.
$TTL 3600
@       IN SOA   ns1.xcc.test. hostmaster.xcc.test. 2024010101 7200 3600 1209600 300
@       IN NS    ns1.xcc.test.
@       IN MX    10 mail.xcc.test.
ns1     IN A     192.0.2.53
mail    IN A     192.0.2.25
www     IN A     192.0.2.80
www     IN A     192.0.2.81
alias   IN CNAME www.xcc.test.
txt     IN TXT   "v=xcc1 first string" "second string; with spaces"
_http._tcp IN SRV 10 5 8080 www.xcc.test.
*.gateway.cluster-a.dev-team.clusters.xcc.test. 30 IN A    10.0.0.10
*.gateway.cluster-a.dev-team.clusters.xcc.test. 30 IN A    10.0.0.11
*.gateway.cluster-a.dev-team.clusters.xcc.test. 30 IN AAAA fd00::10
""" + "".join("big     IN A     198.51.100.%d\n" % i for i in range(1, 61))


# --------------------------------------------------------------------------
# minimal DNS decoder (validation + human readable summary for SOURCES.md)

TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT",
         28: "AAAA", 33: "SRV", 41: "OPT", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY",
         13: "HINFO", 255: "ANY"}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP",
          5: "REFUSED", 16: "BADVERS", 23: "BADCOOKIE"}
OPTS = {3: "NSID", 8: "ECS", 10: "COOKIE", 11: "TCP-KEEPALIVE", 12: "PADDING",
        15: "EDE"}


class Bad(Exception):
    pass


def read_name(msg, off):
    labels, end, hops, total = [], None, 0, 1
    while True:
        if off >= len(msg):
            raise Bad("name runs past end at %d" % off)
        ln = msg[off]
        if ln & 0xC0 == 0xC0:
            if off + 1 >= len(msg):
                raise Bad("truncated pointer")
            ptr = ((ln & 0x3F) << 8) | msg[off + 1]
            if end is None:
                end = off + 2
            if ptr >= off:
                raise Bad("forward/self compression pointer at %d" % off)
            hops += 1
            if hops > 64:
                raise Bad("pointer loop")
            off = ptr
        elif ln & 0xC0:
            raise Bad("bad label type 0x%02x" % ln)
        elif ln == 0:
            off += 1
            break
        else:
            if off + 1 + ln > len(msg):
                raise Bad("label past end")
            labels.append(msg[off + 1:off + 1 + ln].decode("ascii", "backslashreplace"))
            total += ln + 1
            off += 1 + ln
    if total > 255:
        raise Bad("name longer than 255")
    return (".".join(labels) + "."), (end if end is not None else off)


def decode(msg):
    """Walk the whole message; return a dict summary, raise Bad if malformed."""
    if len(msg) < 12:
        raise Bad("shorter than header")
    mid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    off = 12
    qs = []
    for _ in range(qd):
        name, off = read_name(msg, off)
        if off + 4 > len(msg):
            raise Bad("question past end")
        qt, qc = struct.unpack("!HH", msg[off:off + 4])
        off += 4
        qs.append((name, qt, qc))
    secs = []
    edns = None
    for cnt in (an, ns, ar):
        rrs = []
        for _ in range(cnt):
            name, off = read_name(msg, off)
            if off + 10 > len(msg):
                raise Bad("rr header past end")
            t, c, ttl, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
            off += 10
            if off + rdlen > len(msg):
                raise Bad("rdata past end")
            rd = msg[off:off + rdlen]
            if t == 41:
                opts, o = [], 0
                while o < len(rd):
                    if o + 4 > len(rd):
                        raise Bad("bad OPT option")
                    code, olen = struct.unpack("!HH", rd[o:o + 4])
                    if o + 4 + olen > len(rd):
                        raise Bad("OPT option past rdata")
                    opts.append((code, rd[o + 4:o + 4 + olen]))
                    o += 4 + olen
                edns = dict(udp=c, ext_rcode=ttl >> 24, version=(ttl >> 16) & 0xFF,
                            do=bool(ttl & 0x8000), opts=opts)
            rrs.append((name, t, c, ttl, rdlen))
            off += rdlen
        secs.append(rrs)
    if off != len(msg):
        raise Bad("%d trailing bytes" % (len(msg) - off))
    rcode = flags & 0xF
    if edns:
        rcode |= edns["ext_rcode"] << 4
    return dict(id=mid, flags=flags, qd=qs, an=secs[0], ns=secs[1], ar=secs[2],
                edns=edns, rcode=rcode, size=len(msg))


def summary(msg):
    d = decode(msg)
    f = d["flags"]
    names = [n for n, bit in (("QR", 15), ("AA", 10), ("TC", 9), ("RD", 8), ("RA", 7),
                              ("AD", 5), ("CD", 4)) if f >> bit & 1]
    parts = ["%dB id=0x%04x" % (d["size"], d["id"]),
             "op=%d" % (f >> 11 & 0xF), "flags=" + ("|".join(names) or "-"),
             "rcode=" + RCODES.get(d["rcode"], str(d["rcode"]))]
    for n, t, c in d["qd"]:
        parts.append("q=%s %s" % (n, TYPES.get(t, "TYPE%d" % t)))
    parts.append("an/ns/ar=%d/%d/%d" % (len(d["an"]), len(d["ns"]), len(d["ar"])))
    if d["an"]:
        parts.append("answer=" + ",".join(sorted({TYPES.get(r[1], str(r[1])) for r in d["an"]})))
    if d["ns"]:
        parts.append("auth=" + ",".join(sorted({TYPES.get(r[1], str(r[1])) for r in d["ns"]})))
    e = d["edns"]
    if e:
        o = ",".join("%s(%d)" % (OPTS.get(c, str(c)), len(v)) for c, v in e["opts"])
        parts.append("EDNS v%d udp=%d%s%s" % (e["version"], e["udp"],
                                               " DO" if e["do"] else "",
                                               (" opts=" + o) if o else ""))
    else:
        parts.append("no EDNS")
    return " ".join(parts)


# --------------------------------------------------------------------------
# recording proxy

class RecordingProxy(threading.Thread):
    def __init__(self, port, upstream):
        super().__init__(daemon=True)
        self.upstream = upstream
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, port))
        self.sock.settimeout(0.1)
        self.lock = threading.Lock()
        self.log = []          # list of (query_bytes, response_bytes or None)
        self.stopping = False

    def take(self):
        with self.lock:
            out, self.log = self.log, []
        return out

    def run(self):
        while not self.stopping:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            resp = None
            up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            up.settimeout(2.0)
            try:
                up.sendto(data, self.upstream)
                resp, _ = up.recvfrom(65535)
            except OSError:
                resp = None
            finally:
                up.close()
            if resp is not None:
                self.sock.sendto(resp, addr)
            with self.lock:
                self.log.append((data, resp))

    def stop(self):
        self.stopping = True
        self.join(2)
        self.sock.close()


# --------------------------------------------------------------------------
# helpers

def sh(cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True).stdout


def versions():
    v = {}
    v["dig"] = sh(["dig", "-v"]).strip().splitlines()[0]
    v["kdig"] = sh(["kdig", "--version"]).strip().splitlines()[0]
    v["unbound"] = "unbound " + sh(["unbound", "-V"]).strip().splitlines()[0]
    v["knotd"] = sh(["knotd", "--version"]).strip().splitlines()[0]
    v["nsd"] = sh(["nsd", "-v"]).strip().splitlines()[0]
    return v


def probe(port, qname, qtype=6, timeout=10.0):
    """Wait until something on HOST:port answers a plain query."""
    q = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    for lab in qname.rstrip(".").split("."):
        q += bytes([len(lab)]) + lab.encode()
    q += b"\0" + struct.pack("!HH", qtype, 1)
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.3)
        try:
            s.sendto(q, (HOST, port))
            s.recvfrom(65535)
            return True
        except OSError:
            time.sleep(0.2)
        finally:
            s.close()
    return False


class Daemons:
    def __init__(self):
        self.procs = []

    def start(self, name, cmd, logpath):
        log = open(logpath, "w")
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append((name, p, log))
        return p

    def stop(self, p):
        for i, (name, q, log) in enumerate(self.procs):
            if q is p:
                if q.poll() is None:
                    q.terminate()          # SIGTERM to this PID only
                    try:
                        q.wait(5)
                    except subprocess.TimeoutExpired:
                        q.kill()
                        q.wait()
                log.close()
                del self.procs[i]
                return

    def stop_all(self):
        for _, p, _ in list(self.procs):
            self.stop(p)


def knot_conf(work):
    d = os.path.join(work, "knot")
    return d, """server:
    rundir: "{d}"
    user: root:root
    pidfile: "{d}/knot.pid"
    listen: {h}@{p}
    identity: "xcc-knot"
    nsid: "xcc-knot"

control:
    listen: "{d}/knot.sock"

log:
  - target: stderr
    any: info

database:
    storage: "{d}/db"

template:
  - id: default
    storage: "{d}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: on

zone:
  - domain: xcc.test.
    file: "{d}/xcc.test.zone"
""".format(d=d, h=HOST, p=PORT_KNOTD)


def nsd_conf(work):
    d = os.path.join(work, "nsd")
    return d, """server:
    ip-address: {h}@{p}
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "{d}"
    database: ""
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    pidfile: "{d}/nsd.pid"
    logfile: "{d}/nsd-internal.log"
    server-count: 1
    verbosity: 1
    identity: "xcc-nsd"
    nsid: "ascii_xcc-nsd"

remote-control:
    control-enable: no

zone:
    name: "xcc.test."
    zonefile: "{d}/xcc.test.zone"
""".format(d=d, h=HOST, p=PORT_NSD)


def unbound_conf(work, tag, kind, caps):
    d = os.path.join(work, "unbound-" + tag)
    zone = ("forward-zone:\n    name: \"xcc.test.\"\n    forward-addr: %s@%d\n"
            if kind == "forward" else
            "stub-zone:\n    name: \"xcc.test.\"\n    stub-addr: %s@%d\n") % (HOST, PORT_PROXY_KNOT)
    return d, """server:
    verbosity: 1
    interface: {h}
    port: {p}
    do-ip6: no
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{d}"
    pidfile: "{d}/unbound.pid"
    logfile: ""
    use-syslog: no
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "iterator"
    local-zone: "test." nodefault
    qname-minimisation: yes
    use-caps-for-id: {caps}
    outgoing-range: 16
    outgoing-port-avoid: 0-65535
    outgoing-port-permit: 25320-25339

remote-control:
    control-enable: no

{zone}""".format(h=HOST, p=PORT_UNBOUND, d=d, caps="yes" if caps else "no", zone=zone)


# --------------------------------------------------------------------------
# the capture plan

DIG = ["dig", "@" + HOST, "+tries=1", "+timeout=3"]
KDIG = ["kdig", "@" + HOST, "+retry=0", "+timeout=3"]

# (file stem, program, extra args, description)
CLIENT_QUERIES = [
    ("dig-a", "dig", ["www.xcc.test", "A"], "plain A query, dig defaults (RD, AD, EDNS0 udp=1232, client COOKIE)"),
    ("dig-norec", "dig", ["+norec", "www.xcc.test", "A"], "A query with +norec (RD clear)"),
    ("dig-noedns", "dig", ["+noedns", "www.xcc.test", "A"], "A query without OPT record (+noedns)"),
    ("dig-aaaa", "dig", [WILD, "AAAA"], "AAAA query for a name under the wildcard"),
    ("dig-dnssec", "dig", ["+dnssec", "xcc.test", "SOA"], "SOA query with DO bit (+dnssec)"),
    ("dig-mixedcase", "dig", [WILD_MIXED, "A"], "A query, mixed-case QNAME preserved by dig"),
    ("dig-txt", "dig", ["txt.xcc.test", "TXT"], "TXT query"),
    ("dig-any", "dig", ["+notcp", "xcc.test", "ANY"], "QTYPE ANY (255) query over UDP (dig 9.18 uses TCP for ANY unless +notcp)"),
    ("dig-edns1", "dig", ["+edns=1", "+noednsneg", "xcc.test", "SOA"], "SOA query with EDNS version 1 (+edns=1 +noednsneg)"),
    ("kdig-a", "kdig", ["www.xcc.test", "A"], "plain A query, kdig defaults (kdig sends no OPT record by default)"),
    ("kdig-nsid", "kdig", ["+nsid", "www.xcc.test", "A"], "A query with EDNS NSID option (+nsid)"),
    ("kdig-padding", "kdig", ["+padding=128", "www.xcc.test", "A"], "A query with an EDNS PADDING option carrying 128 zero bytes (+padding=128)"),
    ("kdig-subnet", "kdig", ["+subnet=192.0.2.0/24", "www.xcc.test", "A"], "A query with EDNS Client Subnet 192.0.2.0/24"),
    ("kdig-cookie", "kdig", ["+cookie", "www.xcc.test", "A"], "A query with EDNS client COOKIE (+cookie)"),
]

# (what, dig args, description) -- each run against knotd and nsd
SERVER_ANSWERS = [
    ("a", ["www.xcc.test", "A"], "exact A hit, two A records"),
    ("wildcard-a", [WILD, "A"], "A synthesized from *.gateway... wildcard (2 records, TTL 30)"),
    ("wildcard-mixedcase", [WILD_MIXED, "A"], "wildcard A hit for a mixed-case QNAME (case preserved in question/answer)"),
    ("wildcard-aaaa", [WILD, "AAAA"], "AAAA synthesized from the wildcard"),
    ("nxdomain", ["nope.xcc.test", "A"], "NXDOMAIN, SOA in authority"),
    ("nodata", ["www.xcc.test", "AAAA"], "NODATA (NOERROR, empty answer, SOA in authority)"),
    ("ent-nodata", ["clusters.xcc.test", "A"], "empty non-terminal: NOERROR/NODATA"),
    ("cname", ["alias.xcc.test", "A"], "CNAME alias.xcc.test -> www.xcc.test plus the two A records"),
    ("txt", ["txt.xcc.test", "TXT"], "TXT RR with two character-strings"),
    ("srv", ["_http._tcp.xcc.test", "SRV"], "SRV record (target www.xcc.test)"),
    ("mx", ["xcc.test", "MX"], "MX record (additional A for mail.xcc.test if the server adds it)"),
    ("soa", ["xcc.test", "SOA"], "SOA at apex"),
    ("ns", ["xcc.test", "NS"], "NS at apex with glue-ish A for ns1.xcc.test in additional"),
    ("any", ["+notcp", "xcc.test", "ANY"], "QTYPE ANY over UDP (RFC 8482 behaviour of the server)"),
    ("refused", ["example.com", "A"], "out-of-zone query: REFUSED"),
    ("truncated", ["+noedns", "+ignore", "big.xcc.test", "A"], "60 A records, no EDNS (512-byte limit): TC set"),
    ("badvers", ["+edns=1", "+noednsneg", "xcc.test", "SOA"], "EDNS version 1 query: BADVERS (extended rcode 16)"),
]

# kdig +nsid also answered by both servers -> NSID option in reply
NSID_ANSWERS = [("nsid", ["+nsid", "www.xcc.test", "A"], "A answer carrying the EDNS NSID option (query from kdig +nsid)")]

UNBOUND_RUNS = [
    # (tag, forward|stub, caps, qname, qtype, description)
    ("forward", "forward", False, "www.xcc.test", "A",
     "query unbound sends to a forward-zone upstream (RD set, no 0x20)"),
    ("forward-caps", "forward", True, WILD, "A",
     "forward-zone upstream query with use-caps-for-id: yes"),
    ("stub-caps", "stub", True, WILD, "A",
     "stub-zone (iterative, RD clear) queries with use-caps-for-id: yes and qname-minimisation: yes"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--work", default="/tmp/vectors-work")
    a = ap.parse_args()
    out, work = a.out, a.work
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith(".bin"):
            os.unlink(os.path.join(out, f))

    ver = versions()
    records = []   # (filename, producer, command, description)
    configs = {}
    daemons = Daemons()
    proxies = []

    def save(name, data, producer, command, desc):
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(data)
        records.append((name, producer, command, desc))
        print("  %-36s %s" % (name, summary(data)))

    try:
        # --- authoritative servers
        kd, kconf = knot_conf(work)
        os.makedirs(os.path.join(kd, "db"))
        nd, nconf = nsd_conf(work)
        os.makedirs(nd)
        for d in (kd, nd):
            with open(os.path.join(d, "xcc.test.zone"), "w") as fh:
                fh.write(ZONE)
        with open(os.path.join(kd, "knot.conf"), "w") as fh:
            fh.write(kconf)
        with open(os.path.join(nd, "nsd.conf"), "w") as fh:
            fh.write(nconf)
        configs["knot.conf"], configs["nsd.conf"] = kconf, nconf
        chk = subprocess.run(["nsd-checkconf", os.path.join(nd, "nsd.conf")],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if chk.returncode:
            sys.exit("nsd-checkconf failed:\n" + chk.stdout)
        daemons.start("knotd", ["knotd", "-c", os.path.join(kd, "knot.conf")],
                      os.path.join(work, "knotd.log"))
        daemons.start("nsd", ["nsd", "-d", "-c", os.path.join(nd, "nsd.conf")],
                      os.path.join(work, "nsd.log"))
        for port, n in ((PORT_KNOTD, "knotd"), (PORT_NSD, "nsd")):
            if not probe(port, "xcc.test"):
                sys.exit("%s did not come up, see %s" % (n, work))

        pk = RecordingProxy(PORT_PROXY_KNOT, (HOST, PORT_KNOTD))
        pn = RecordingProxy(PORT_PROXY_NSD, (HOST, PORT_NSD))
        proxies += [pk, pn]
        for p in proxies:
            p.start()

        def run(proxy, cmd, settle=0.3):
            proxy.take()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
            time.sleep(settle)
            return proxy.take()

        # --- client queries (dig/kdig -> proxy -> knotd)
        print("client queries:")
        for stem, prog, args, desc in CLIENT_QUERIES:
            base = DIG if prog == "dig" else KDIG
            cmd = base + ["-p", str(PORT_PROXY_KNOT)] + args
            log = run(pk, cmd)
            if not log:
                print("  !! %s: nothing received" % stem)
                continue
            save(stem + ".query.bin", log[0][0], ver[prog], " ".join(cmd), desc)

        # --- server answers (dig -> proxy -> knotd / nsd)
        print("server answers:")
        for srv, proxy, port in (("knot", pk, PORT_PROXY_KNOT), ("nsd", pn, PORT_PROXY_NSD)):
            producer = ver["knotd" if srv == "knot" else "nsd"]
            for what, args, desc in SERVER_ANSWERS + NSID_ANSWERS:
                base = KDIG if what == "nsid" else DIG
                cmd = base + ["-p", str(port)] + args
                log = run(proxy, cmd)
                if not log or log[0][1] is None:
                    print("  !! %s-%s: no answer" % (srv, what))
                    continue
                save("%s-%s.response.bin" % (srv, what), log[0][1], producer,
                     "reply to: " + " ".join(cmd), desc)

        # --- unbound as forwarder / stub resolver (upstream = knot proxy)
        print("unbound upstream queries:")
        for tag, kind, caps, qname, qtype, desc in UNBOUND_RUNS:
            ud, uconf = unbound_conf(work, tag, kind, caps)
            os.makedirs(ud)
            cpath = os.path.join(ud, "unbound.conf")
            with open(cpath, "w") as fh:
                fh.write(uconf)
            configs["unbound-%s.conf" % tag] = uconf
            chk = subprocess.run(["unbound-checkconf", cpath], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
            if chk.returncode:
                sys.exit("unbound-checkconf failed:\n" + chk.stdout)
            up = daemons.start("unbound-" + tag, ["unbound", "-d", "-c", cpath],
                               os.path.join(work, "unbound-%s.log" % tag))
            if not probe(PORT_UNBOUND, "localhost", 1):
                sys.exit("unbound did not come up, see %s" % work)
            cmd = DIG + ["-p", str(PORT_UNBOUND), qname, qtype]
            log = run(pk, cmd, settle=1.0)
            daemons.stop(up)
            if not log:
                print("  !! unbound-%s: nothing sent upstream" % tag)
                continue
            command = "%s (config unbound-%s.conf below)" % (" ".join(cmd), tag)
            if len(log) == 1:
                save("unbound-%s.query.bin" % tag, log[0][0], ver["unbound"], command, desc)
            else:
                for i, (q, _) in enumerate(log[:6], 1):
                    save("unbound-%s-%d.query.bin" % (tag, i), q, ver["unbound"], command,
                         "%s; upstream query %d of %d" % (desc, i, len(log)))
    finally:
        for p in proxies:
            p.stop()
        daemons.stop_all()

    # --- verify everything we wrote
    bad = 0
    for name, *_ in records:
        data = open(os.path.join(out, name), "rb").read()
        try:
            d = decode(data)
            qr = bool(d["flags"] & 0x8000)
            if qr != name.endswith(".response.bin"):
                raise Bad("QR bit does not match file name")
            if len(d["qd"]) != 1:
                raise Bad("QDCOUNT != 1")
        except Bad as e:
            bad += 1
            print("INVALID %s: %s" % (name, e))

    write_sources(out, ver, records, configs)
    print("%d files written to %s, %d invalid" % (len(records), out, bad))
    return 1 if bad else 0


def write_sources(out, ver, records, configs):
    L = []
    L.append("# DNS wire-format test vectors\n")
    L.append("Generated by `python3 wire/tests/vectors/capture.py` (see its docstring) on "
             "Debian bookworm, loopback only. Each `.bin` file is exactly one DNS message "
             "(UDP payload, no length prefix). `*.query.bin` = bytes a client sent; "
             "`*.response.bin` = bytes a server sent back. Query IDs, dig client cookies "
             "and unbound 0x20 casing are random, so re-running changes bytes, not kinds.\n")
    L.append("Programs:\n")
    for k in ("dig", "kdig", "unbound", "knotd", "nsd"):
        L.append("- %s: `%s`" % (k, ver[k]))
    L.append("")
    L.append("Ports: recording proxy 127.0.0.1:25300 -> knotd 127.0.0.1:25353, "
             "proxy 127.0.0.1:25301 -> nsd 127.0.0.1:25354, unbound 127.0.0.1:25310. "
             "Client queries were captured at the proxy; server responses are the "
             "replies to the dig/kdig command shown.\n")
    L.append("## Files\n")
    L.append("One line per file: file | producer | command | message | decoded summary\n")
    for name, prod, cmd, desc in records:
        data = open(os.path.join(out, name), "rb").read()
        L.append("- `%s` | %s | `%s` | %s | %s" % (name, prod, cmd, desc, summary(data)))
    L.append("\n## Zone file (`xcc.test.zone`, identical for knotd and nsd)\n")
    L.append("```\n" + ZONE + "```\n")
    for k in sorted(configs):
        L.append("## %s\n" % k)
        L.append("```\n" + configs[k] + "```\n")
    with open(os.path.join(out, "SOURCES.md"), "w") as fh:
        fh.write("\n".join(L))


if __name__ == "__main__":
    sys.exit(main())
