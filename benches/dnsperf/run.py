#!/usr/bin/env python3
"""xcc-responder side by side with NSD and Knot DNS, on one server core.

For each data set (zone xcc.test.; see --sizes) this script
  1. builds the release responder (cargo build --release -p xcc-responder),
     and compiles its own load generator and reflector (loadgen.c,
     reflector.c, beside it) into a cache directory outside the repository;
  2. writes the data set once, cached: DNSRecord manifests (the responder's
     records format, a JSON List) and the same zone as an RFC 1035 master
     file for NSD and Knot, a query file (realistic mix) and the answers
     the correctness probes must get;
  3. starts every server pinned with taskset to the server core, times it
     until its first correct answer (load time), reads its RSS, and checks
     it with dig (UDP) and kdig (TCP): exact, wildcard, NXDOMAIN, NODATA,
     empty non-terminal and apex answers must match the data, so the servers
     match each other;
  4. runs interleaved rounds (server order rotated each round), the client
     pinned to the other core:
       udp          loadgen, closed loop            (peak UDP queries/s)
       udp-dnsperf  dnsperf, closed loop            (the reference client)
       tcp          loadgen, pipelined TCP          (peak TCP queries/s)
       tcp-dnsperf  dnsperf -m tcp
       latency      loadgen paced at half of NSD's udp queries/s of the same
                    round (open loop): p50/p99 at one load for every server
     measuring per run: queries/s, lost queries, server CPU microseconds per
     answered query (utime+stime of the server's processes from
     /proc/<pid>/stat, before and after), server and client CPU %, the CPU
     other processes took (noise), rcode shares, and latency percentiles
     (loadgen);
  5. prints a side-by-side table (medians over the rounds, ratios to NSD and
     Knot, the issue-5 targets) and writes the raw runs and the summary as
     JSON (--out) plus the same tables as Markdown beside it.

Everything talks to 127.0.0.1 only, on free ports picked at start. Servers
are stopped by the process group of the child this script started, on exit
or signal. chart.py draws the JSON.
"""
import argparse
import datetime
import hashlib
import ipaddress
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import string
import struct
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Data sets. Bump GEN_VERSION whenever what gen_data writes changes: cached
# data sets are keyed by it.
GEN_VERSION = 1
ZONE = "xcc.test."
TTL = 30
# The responder synthesises the apex SOA and NS from its flags; the zone
# file for NSD and Knot carries the same values (responder defaults, see
# ZoneConfig::new), so every server gives the same answers.
SOA_MNAME = "ns." + ZONE
SOA_RNAME = "hostmaster." + ZONE
SOA_TIMERS = (3600, 600, 86400)  # refresh, retry, expire
NEG_TTL = 5                      # SOA MINIMUM; passed as --negative-ttl
SOA_TTL = 30
NS_ADDR = "127.0.0.1"            # ns.xcc.test. A, in every server's data
SIZES = {
    # namespaces, clusters per namespace, exact api.<cluster> names too?
    "small": None,  # the walkthrough (examples/walkthrough.yaml)
    "1k": (50, 20, False),
    "100k": (1000, 100, True),
    "1m": (5000, 100, True),
}
SERVICES = ["kuard", "api", "www", "grafana", "prometheus", "argocd", "vault", "auth", "payments",
            "orders", "checkout", "search", "cart", "web", "app", "backend", "frontend", "metrics"]

TESTS = ["udp", "udp-dnsperf", "tcp", "tcp-dnsperf", "latency"]
# xcc-snapshot: the responder started from a table snapshot (what the
# records sidecar publishes) instead of manifests; it answers from the same
# code, so it is only started, timed, weighed and probed, not loaded.
SERVER_KINDS = ["reflector", "xcc", "xcc-snapshot", "nsd", "knot"]
LOAD_ONLY = {"xcc-snapshot"}


def log(msg):
    print(msg, flush=True)


# ------------------------------------------------------------------ data sets
def owners(size):
    """Yield (owner, [ipv4...], [ipv6...], kind) for every owner of the data
    set, kind "wild" (a *.gateway wildcard; owner is the wildcard's parent)
    or "exact". Deterministic: same size, same data."""
    if size == "small":
        # the walkthrough's two gateways
        yield "gateway.cluster-a.dev-team.clusters." + ZONE, ["192.0.2.10"], [], "wild"
        yield "gateway.cluster-b.dev-team.clusters." + ZONE, ["198.51.100.20"], [], "wild"
        return
    rng = random.Random(20261129)
    n_ns, per_ns, with_exact = SIZES[size]
    idx = 0
    for j in range(n_ns):
        ns = f"team-{j:04d}"
        for _ in range(per_ns):
            cl = f"cluster-{idx:06d}"
            base = 0x0A000001 + idx * 4  # 10.0.0.0/8, 1-3 addresses per cluster
            v4 = [str(ipaddress.IPv4Address(base + i)) for i in range(rng.randint(1, 3))]
            v6 = [str(ipaddress.IPv6Address((0xFD00 << 112) + idx + 1))] if idx % 3 == 0 else []
            yield f"gateway.{cl}.{ns}.clusters.{ZONE}", v4, v6, "wild"
            if with_exact:
                yield f"api.{cl}.{ns}.clusters.{ZONE}", [str(ipaddress.IPv4Address(0x64400001 + idx))], [], "exact"
            idx += 1


def manifest(owner, addrs):
    """One DNSRecord, as the controller writes it (object name from the owner)."""
    meta = owner.rstrip(".").replace("*.", "").replace(".clusters.xcc.test", "").split(".")
    name = "-".join(reversed(meta))[:253]
    return {"apiVersion": "connectivity.tanzu.vmware.com/v1alpha1", "kind": "DNSRecord",
            "metadata": {"name": name, "namespace": "xcc-dns"},
            "spec": {"name": owner.rstrip("."), "ttl": TTL, "addresses": addrs}}


def gen_data(size, d, query_count):
    """Write the data set into d (skipped when d holds this GEN_VERSION's)."""
    meta_path = os.path.join(d, "meta.json")
    if os.path.exists(meta_path):
        meta = json.load(open(meta_path))
        if meta.get("gen_version") == GEN_VERSION and meta.get("query_count") == query_count:
            return meta
    os.makedirs(d, exist_ok=True)
    t0 = time.monotonic()
    wild, wild6, exact = [], [], []
    n_rr = 0
    records = os.path.join(d, "records.json")
    zonefile = os.path.join(d, "xcc.test.zone")
    with open(records + ".tmp", "w") as rj, open(zonefile + ".tmp", "w") as zf:
        rj.write('{"apiVersion": "v1", "kind": "List", "items": [\n')
        rj.write(json.dumps(manifest("ns." + ZONE, [NS_ADDR]), separators=(",", ":")))
        zf.write(f"$ORIGIN {ZONE}\n$TTL {TTL}\n")
        zf.write(f"{ZONE} {SOA_TTL} IN SOA {SOA_MNAME} {SOA_RNAME} 1 {' '.join(map(str, SOA_TIMERS))} {NEG_TTL}\n")
        zf.write(f"{ZONE} {SOA_TTL} IN NS {SOA_MNAME}\n")
        zf.write(f"ns.{ZONE} {TTL} IN A {NS_ADDR}\n")
        for owner, v4, v6, kind in owners(size):
            name = ("*." + owner) if kind == "wild" else owner
            rj.write(",\n" + json.dumps(manifest(name, v4 + v6), separators=(",", ":")))
            for a in v4:
                zf.write(f"{name} {TTL} IN A {a}\n")
            for a in v6:
                zf.write(f"{name} {TTL} IN AAAA {a}\n")
            n_rr += len(v4) + len(v6)
            if kind == "wild":
                wild.append(owner)
                wild6.append(bool(v6))
            else:
                exact.append(owner)
        rj.write("\n]}\n")
    # the data of the few owners the probes ask about: a second pass is
    # cheaper than holding a million owners' addresses
    wanted = {wild[0], wild[-1], wild[wild6.index(False)]}
    if True in wild6:
        wanted.add(wild[wild6.index(True)])
    if exact:
        wanted.add(exact[len(exact) // 2])
    by_owner = {o: (v4, v6) for o, v4, v6, _ in owners(size) if o in wanted}
    os.replace(records + ".tmp", records)
    os.replace(zonefile + ".tmp", zonefile)
    expect = probes(wild, wild6, exact, by_owner)
    json.dump(expect, open(os.path.join(d, "probes.json"), "w"), indent=1)
    shares = gen_queries(os.path.join(d, "queries.txt"), wild, wild6, exact, query_count)
    meta = {"gen_version": GEN_VERSION, "size": size, "zone": ZONE, "wildcard_names": len(wild),
            "exact_names": len(exact), "rrs": n_rr + 4, "query_count": query_count, "query_shares": shares,
            "records_bytes": os.path.getsize(records), "zone_bytes": os.path.getsize(zonefile),
            "generated_s": round(time.monotonic() - t0, 1)}
    json.dump(meta, open(meta_path, "w"), indent=1)
    return meta


def soa_data():
    return f"{SOA_MNAME} {SOA_RNAME} * {' '.join(map(str, SOA_TIMERS))} {NEG_TTL}"


def probes(wild, wild6, exact, data):
    """The correctness probes and the answer each must get: (rcode, sorted
    answer RRs, sorted authority RRs), RRs as "owner ttl type rdata", the
    SOA serial as * (each server has its own)."""
    neg = [f"{ZONE} {min(SOA_TTL, NEG_TTL)} SOA {soa_data()}"]

    def rrs(owner, addrs, t):
        return sorted(f"{owner} {TTL} {t} {a}" for a in addrs)
    out = []
    p0 = wild[0]
    out.append(("wildcard A", "kuard." + p0, "A", "NOERROR", rrs("kuard." + p0, data[p0][0], "A"), []))
    out.append(("wildcard A, 3 labels below", "a.b.c." + p0, "A", "NOERROR",
                rrs("a.b.c." + p0, data[p0][0], "A"), []))
    pl = wild[-1]
    out.append(("wildcard A, last owner", "x1." + pl, "A", "NOERROR", rrs("x1." + pl, data[pl][0], "A"), []))
    six = [p for p, h in zip(wild, wild6) if h]
    if six:
        p6 = six[0]
        out.append(("wildcard AAAA", "kuard." + p6, "AAAA", "NOERROR", rrs("kuard." + p6, data[p6][1], "AAAA"), []))
    nosix = [p for p, h in zip(wild, wild6) if not h][0]
    out.append(("NODATA (AAAA at an A-only wildcard)", "kuard." + nosix, "AAAA", "NOERROR", [], neg))
    out.append(("NODATA (empty non-terminal)", p0, "A", "NOERROR", [], neg))
    q = "kuard.gateway.no-such-cluster.dev-team.clusters." + ZONE
    out.append(("NXDOMAIN", q, "A", "NXDOMAIN", [], neg))
    out.append(("exact A", "ns." + ZONE, "A", "NOERROR", [f"ns.{ZONE} {TTL} A {NS_ADDR}"], []))
    out.append(("apex SOA", ZONE, "SOA", "NOERROR", [f"{ZONE} {SOA_TTL} SOA {soa_data()}"], []))
    out.append(("apex NS", ZONE, "NS", "NOERROR", [f"{ZONE} {SOA_TTL} NS {SOA_MNAME}"], []))
    if exact:
        e = exact[len(exact) // 2]
        out.append(("exact A (api name)", e, "A", "NOERROR", rrs(e, data[e][0], "A"), []))
        out.append(("NXDOMAIN below an exact name", "x." + e, "A", "NXDOMAIN", [], neg))
    return [{"what": w, "qname": n, "qtype": t, "rcode": r, "answer": a, "authority": au}
            for w, n, t, r, a, au in out]


def first_label(rng):
    # half service-like names, half random: every name is looked up afresh
    if rng.random() < 0.5:
        return rng.choice(SERVICES)
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(rng.randint(4, 12)))


def gen_queries(path, wild, wild6, exact, count):
    """The realistic mix (the peer harness's): 70 % A under a wildcard, 10 %
    exact names (the apex for sets without api names), 10 % NXDOMAIN, 10 %
    AAAA under a wildcard (NODATA where the cluster has no IPv6). Returns the
    rcode shares the servers must give."""
    rng = random.Random(4242)
    apex = [(ZONE, "SOA"), (ZONE, "NS"), ("ns." + ZONE, "A")]
    nx = 0
    with open(path, "w") as f:
        for _ in range(count):
            r = rng.random()
            if r < 0.70:
                f.write(f"{first_label(rng)}.{rng.choice(wild)} A\n")
            elif r < 0.80:
                if exact:
                    f.write(f"{rng.choice(exact)} A\n")
                else:
                    f.write("%s %s\n" % rng.choice(apex))
            elif r < 0.90:
                nx += 1
                if exact and rng.random() < 0.5:
                    f.write(f"{first_label(rng)}.{rng.choice(exact)} A\n")
                else:
                    ns = rng.choice(wild).split(".")[2]
                    f.write(f"{first_label(rng)}.gateway.nope-{rng.randrange(10**6)}.{ns}.clusters.{ZONE} A\n")
            else:
                f.write(f"{first_label(rng)}.{rng.choice(wild)} AAAA\n")
    return {"NOERROR": round(1 - nx / count, 4), "NXDOMAIN": round(nx / count, 4)}


# ------------------------------------------------------------------ tools
def sh(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def build_tools(cache):
    """Compile loadgen and reflector into the cache, named by their source's
    hash so an edit rebuilds and a rerun does not."""
    out = {}
    os.makedirs(os.path.join(cache, "bin"), exist_ok=True)
    for name in ("loadgen", "reflector"):
        src = os.path.join(HERE, name + ".c")
        h = hashlib.sha256(open(src, "rb").read()).hexdigest()[:12]
        exe = os.path.join(cache, "bin", f"{name}-{h}")
        if not os.path.exists(exe):
            r = sh(["gcc", "-O2", "-Wall", "-Wextra", "-o", exe + ".tmp", src], timeout=120)
            if r.returncode:
                raise SystemExit(f"gcc {src} failed:\n{r.stdout}")
            os.replace(exe + ".tmp", exe)
        out[name] = exe
    return out


def build_responder(a):
    if a.binary:
        return os.path.abspath(a.binary)
    exe = os.path.join(REPO, "target", "release", "xcc-responder")
    if not a.no_build:
        log("building: cargo build --release -p xcc-responder")
        r = sh(["cargo", "build", "--release", "-p", "xcc-responder"], cwd=REPO, timeout=3600)
        if r.returncode:
            raise SystemExit(f"cargo build failed:\n{r.stdout[-4000:]}")
    if not os.path.exists(exe):
        raise SystemExit(f"{exe} missing")
    return exe


def build_snapshot_tool(cache):
    """Build snapshot.rs (records file -> table snapshot) in the cache, as
    its own one-package workspace against this checkout's crates: nothing is
    written into the repository, and the format is the measured one's."""
    d = os.path.join(cache, "snapshot-tool")
    os.makedirs(d, exist_ok=True)
    manifest_text = f"""[package]
name = "xcc-dnsperf-snapshot"
version = "0.0.0"
edition = "2024"
publish = false

[[bin]]
name = "xcc-dnsperf-snapshot"
path = "{os.path.join(HERE, 'snapshot.rs')}"

[dependencies]
xcc-responder = {{ path = "{os.path.join(REPO, 'responder')}" }}

[workspace]
"""
    path = os.path.join(d, "Cargo.toml")
    if not os.path.exists(path) or open(path).read() != manifest_text:
        open(path, "w").write(manifest_text)
        # start from the workspace's lock file: the same dependency versions
        shutil.copy(os.path.join(REPO, "Cargo.lock"), os.path.join(d, "Cargo.lock"))
    log("building the snapshot tool (cargo, in the cache)")
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(d, "target"))
    r = sh(["cargo", "build", "--release", "--manifest-path", path], env=env, timeout=3600)
    if r.returncode:
        raise SystemExit(f"building {path} failed:\n{r.stdout[-4000:]}")
    return os.path.join(d, "target", "release", "xcc-dnsperf-snapshot")


def make_snapshot(tool, data):
    """The data set's records as a snapshot, rewritten whenever the tool
    (and so the format) is newer than it."""
    snap = os.path.join(data, "records.snapshot")
    if not os.path.exists(snap) or os.path.getmtime(snap) < os.path.getmtime(tool):
        r = sh([tool, os.path.join(data, "records.json"), snap, str(NEG_TTL)], timeout=1800)
        if r.returncode:
            raise SystemExit(f"snapshot of {data} failed:\n{r.stdout[-2000:]}")
    return snap


def need(tools):
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        raise SystemExit(f"missing {' '.join(missing)}: apt-get install dnsperf nsd knot knot-dnsutils "
                         "dnsutils gcc (see README.md)")


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1, below the ephemeral
    range so that no client socket is handed it meanwhile."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 30000)
        socks = []
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                s = socket.socket(socket.AF_INET, kind)
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise SystemExit("no free port")


# ------------------------------------------------------------------ /proc
def all_ppids():
    m = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                s = open(f"/proc/{d}/stat").read()
                m[int(d)] = int(s[s.rindex(")") + 2:].split()[1])
            except (OSError, ValueError):
                pass
    return m


def process_tree(root):
    """root and its descendants (NSD forks its serving process)."""
    m = all_ppids()
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        if p in m:
            out.append(p)
            todo.extend(c for c, pp in m.items() if pp == p)
    return out


def cpu_seconds(pids):
    """utime+stime of these processes (all their threads, live and exited)."""
    t = 0
    for p in pids:
        try:
            s = open(f"/proc/{p}/stat").read()
            f = s[s.rindex(")") + 2:].split()
            t += int(f[11]) + int(f[12])
        except (OSError, ValueError, IndexError):
            pass
    return t / CLK_TCK


def memory(pids):
    rss = threads = 0
    for p in pids:
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads += int(line.split()[1])
        except OSError:
            pass
    return {"rss_mib": round(rss / 1024, 1), "threads": threads, "processes": len(pids)}


def busy_seconds():
    """per-core busy time, seconds, from /proc/stat"""
    out = {}
    for line in open("/proc/stat"):
        if line.startswith("cpu") and line[3].isdigit():
            f = line.split()
            v = list(map(int, f[1:9]))
            out[f[0]] = (sum(v) - v[3] - v[4]) / CLK_TCK
    return out


def pin(pids, cpus):
    """(Re)pin every thread: Knot sets its own thread affinity at start,
    which escapes the taskset it was started under."""
    for p in pids:
        subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(p)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


NICE = 0  # set from --nice


def prio():
    """The command prefix that puts servers and clients ahead of other work
    on the machine: a build beside the benchmark otherwise takes its share
    of both cores. The kernel schedules by autogroup (one per session)
    first, so a niceness alone does nothing against another session's
    build; the command must run in a session of its own (the callers use
    start_new_session) and that session's autogroup gets the niceness.
    Against nice -20 a build gets about 1 % of a busy core."""
    n = NICE
    if not n:
        return []
    return ["sh", "-c", f'echo {n} > /proc/self/autogroup 2>/dev/null; exec nice -n {n} "$@"', "prio"]


# ------------------------------------------------------------------ DNS
QTYPES = {"A": 1, "NS": 2, "SOA": 6, "AAAA": 28}


def udp_ask(port, qname, qtype, timeout):
    """One query (no EDNS); returns (rcode, sorted A/AAAA data) or None."""
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for lab in qname.rstrip(".").split("."):
        q += bytes([len(lab)]) + lab.encode()
    q += b"\0" + struct.pack(">HH", QTYPES[qtype], 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))  # connected: a closed port fails at once
        s.send(q)
        buf = s.recv(4096)
    if len(buf) < 12 or buf[:2] != q[:2]:
        return None
    an = struct.unpack(">H", buf[6:8])[0]
    off = len(q)
    data = []
    for _ in range(an):
        while buf[off] and buf[off] & 0xC0 != 0xC0:
            off += 1 + buf[off]
        off += 2 if buf[off] else 1
        t, _, _, rdlen = struct.unpack(">HHIH", buf[off:off + 10])
        rd = buf[off + 10:off + 10 + rdlen]
        off += 10 + rdlen
        if t == 1:
            data.append(socket.inet_ntop(socket.AF_INET, rd))
        elif t == 28:
            data.append(socket.inet_ntop(socket.AF_INET6, rd))
    return buf[3] & 0xF, sorted(data)


def dig(tool, port, qname, qtype, tcp):
    """Ask with dig or kdig and normalise: rcode, AA, answer and authority
    RRs as "owner ttl type rdata" (SOA serial as *), sorted, since the
    responder rotates address order."""
    if tool == "dig":
        cmd = ["dig", "+norec", "+time=2", "+tries=1", "-p", str(port), "@127.0.0.1", qname, qtype]
        if tcp:
            cmd.insert(1, "+tcp")
    else:
        cmd = ["kdig", "+norec", "+time=2", "+retry=0", "-p", str(port), "@127.0.0.1", qname, qtype]
        if tcp:
            cmd.insert(1, "+tcp")
    try:
        out = sh(cmd, timeout=10).stdout
    except subprocess.TimeoutExpired:
        return {"error": "timeout"}
    m = re.search(r"status: (\w+)", out)
    if not m:
        return {"error": out.strip().splitlines()[-1] if out.strip() else "no output"}
    flags = re.search(r";; [Ff]lags: ([^;]*);", out)
    res = {"rcode": m.group(1), "aa": bool(flags and "aa" in flags.group(1).split()), "answer": [],
           "authority": []}
    section = None
    for line in out.splitlines():
        if line.startswith(";; ANSWER SECTION"):
            section = "answer"
        elif line.startswith(";; AUTHORITY SECTION"):
            section = "authority"
        elif line.startswith(";;") and "SECTION" in line:
            section = None
        elif section and line and not line.startswith(";"):
            f = line.split()
            if len(f) >= 5 and f[2] == "IN":
                rd = f[4:]
                if f[3] == "SOA" and len(rd) == 7:
                    rd[2] = "*"
                res[section].append(f"{f[0].lower()} {f[1]} {f[3]} {' '.join(rd).lower()}")
    res["answer"].sort()
    res["authority"].sort()
    return res


def check(port, expect, tcp_too):
    """The probes over UDP (dig) and TCP (kdig); returns the failures and
    what each probe got (to compare servers with each other)."""
    fails, got = [], {}
    for e in expect:
        for tool, tcp in (("dig", False), ("kdig", True)) if tcp_too else (("dig", False),):
            r = dig(tool, port, e["qname"], e["qtype"], tcp)
            key = f"{e['qname']} {e['qtype']}{' tcp' if tcp else ''}"
            got[key] = r
            if "error" in r:
                fails.append(f"{key}: {r['error']}")
                continue
            prob = []
            if r["rcode"] != e["rcode"]:
                prob.append(f"rcode {r['rcode']} (want {e['rcode']})")
            if not r["aa"]:
                prob.append("AA not set")
            if r["answer"] != e["answer"]:
                prob.append(f"answer {r['answer']} (want {e['answer']})")
            if r["authority"] != e["authority"]:
                prob.append(f"authority {r['authority']} (want {e['authority']})")
            if prob:
                fails.append(f"{key} [{e['what']}]: " + "; ".join(prob))
    return fails, got


# ------------------------------------------------------------------ servers
class Server:
    """One server process under test: its command, pinning and lifetime."""

    def __init__(self, kind, workers, rundir, data, cpus, xcc_bin, tools):
        self.kind, self.workers = kind, workers
        self.key = kind if workers == 1 else f"{kind}-w{workers}"
        self.cpus = cpus
        self.port = free_port()
        self.dir = os.path.join(rundir, self.key)
        self.real = kind != "reflector"   # the reflector's answers are not answers
        self.tcp = kind != "reflector"
        self.proc = None
        os.makedirs(self.dir, exist_ok=True)
        zonefile = os.path.join(data, "xcc.test.zone")
        self.load_only = kind in LOAD_ONLY
        if kind in ("xcc", "xcc-snapshot"):
            records = os.path.join(data, "records.json" if kind == "xcc" else "records.snapshot")
            self.cmd = [xcc_bin, "--records", records, "--listen",
                        f"127.0.0.1:{self.port}", "--workers", str(workers), "--admin-listen", "off",
                        "--negative-ttl", str(NEG_TTL)]
        elif kind == "nsd":
            conf = os.path.join(self.dir, "nsd.conf")
            open(conf, "w").write(nsd_conf(self.dir, zonefile, self.port, workers))
            self.cmd = ["nsd", "-d", "-c", conf]
        elif kind == "knot":
            conf = os.path.join(self.dir, "knot.conf")
            os.makedirs(os.path.join(self.dir, "db"), exist_ok=True)
            open(conf, "w").write(knot_conf(self.dir, zonefile, self.port, workers))
            self.cmd = ["knotd", "-c", conf]
        elif kind == "reflector":
            self.cmd = [tools["reflector"], "-p", str(self.port)]
        else:
            raise SystemExit(f"unknown server {kind}")
        self.info = {"key": self.key, "kind": kind, "workers": workers, "cpus": cpus, "port": self.port,
                     "cmd": " ".join(self.cmd)}

    def start(self, probe, timeout):
        """Start, and wait for the first correct answer to probe: that wait
        is the load time (parse, build, bind)."""
        self.logf = open(os.path.join(self.dir, "server.log"), "w")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(prio() + ["taskset", "-c", self.cpus] + self.cmd, stdout=self.logf,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.dir,
                                     start_new_session=True)
        qname, qtype, want = probe
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                self.info["error"] = f"exited with {self.proc.returncode}; see {self.logf.name}"
                return False
            try:
                r = udp_ask(self.port, qname, qtype, 0.05)
                if r and (not self.real or r == (0, want)):
                    self.info["load_s"] = round(time.monotonic() - t0, 3)
                    return True
            except OSError:
                pass
            time.sleep(0.002)
        self.info["error"] = f"no correct answer after {timeout} s"
        return False

    def pids(self):
        return process_tree(self.proc.pid) if self.proc and self.proc.poll() is None else []

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass
        # NSD's children may outlive their parent by a moment
        for _ in range(50):
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def nsd_conf(d, zonefile, port, workers):
    return f"""server:
    ip-address: 127.0.0.1@{port}
    port: {port}
    do-ip6: no
    server-count: {workers}
    username: ""
    chroot: ""
    zonesdir: "{d}"
    database: ""
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    pidfile: "{d}/nsd.pid"
    logfile: "{d}/nsd.log"
    verbosity: 0
    hide-version: yes
    minimal-responses: yes
    # Debian builds NSD with response-rate limiting on (200 qps per /24):
    # from one address a benchmark would measure the limiter
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
    reuseport: yes
    tcp-count: 1000
    tcp-timeout: 30
    zonefiles-check: no
    zonefiles-write: 0
remote-control:
    control-enable: no
zone:
    name: "{ZONE}"
    zonefile: "{zonefile}"
"""


def knot_conf(d, zonefile, port, workers):
    return f"""server:
    rundir: "{d}"
    listen: 127.0.0.1@{port}
    udp-workers: {workers}
    tcp-workers: {workers}
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: "{d}/db"
template:
  - id: default
    storage: "{d}/db"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
  - domain: {ZONE}
    file: "{zonefile}"
"""


# ------------------------------------------------------------------ runs
def parse_dnsperf(text):
    r = {}
    pats = {"sent": r"Queries sent:\s+(\d+)", "completed": r"Queries completed:\s+(\d+)",
            "lost": r"Queries lost:\s+(\d+)", "qps": r"Queries per second:\s+([\d.]+)",
            "run_s": r"Run time \(s\):\s+([\d.]+)", "avg_lat_s": r"Average Latency \(s\):\s+([\d.]+)",
            "stddev_lat_s": r"Latency StdDev \(s\):\s+([\d.]+)"}
    for k, p in pats.items():
        m = re.search(p, text)
        if m:
            r[k] = float(m.group(1))
    m = re.search(r"Response codes:\s+(.*)", text)
    if m:
        r["rcodes"] = {k: int(v) for k, v in re.findall(r"([A-Z0-9]+) (\d+) \(", m.group(1))}
    if "avg_lat_s" in r:
        r["latency_us"] = {"avg": round(r.pop("avg_lat_s") * 1e6, 1)}
    return r


def run_client(cmd, client_cpus, server, timeout):
    """Run one client pinned; the server's CPU time, the client's and the
    two cores' busy time are read before and after."""
    pids = server.pids()
    pin(pids, server.cpus)
    cpu0, busy0 = cpu_seconds(pids), busy_seconds()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    try:
        p = sh(prio() + ["taskset", "-c", client_cpus] + cmd, timeout=timeout, start_new_session=True)
        out, rc = p.stdout, p.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or ""), -1
    wall = time.monotonic() - t0
    cpu1, busy1 = cpu_seconds(server.pids() or pids), busy_seconds()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    st = {"rc": rc, "wall_s": round(wall, 3), "server_cpu_s": round(cpu1 - cpu0, 3),
          "client_cpu_s": round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 3),
          "busy_cpu_s": round(sum(busy1.values()) - sum(busy0.values()), 3)}
    # whatever ran on the machine besides this server and client (the other
    # engineer's build, kernel work charged to no one): the noise
    st["other_cpu_s"] = round(max(0.0, st["busy_cpu_s"] - st["server_cpu_s"] - st["client_cpu_s"]), 3)
    return out, st


def one_run(test, server, a, tools, qfile, rate):
    dur = a.duration
    if test == "udp":
        cmd = [tools["loadgen"], "-p", str(server.port), "-d", qfile, "-l", str(dur), "-c", str(a.udp_c),
               "-q", str(a.udp_q), "-t", "1000"]
    elif test == "tcp":
        cmd = [tools["loadgen"], "-m", "tcp", "-p", str(server.port), "-d", qfile, "-l", str(dur), "-c",
               str(a.tcp_c), "-q", str(a.tcp_q), "-t", "2000"]
    elif test == "latency":
        dur = a.latency_seconds
        cmd = [tools["loadgen"], "-p", str(server.port), "-d", qfile, "-l", str(dur), "-c", "8", "-q", "4096",
               "-Q", str(int(rate)), "-t", "1000"]
    elif test == "udp-dnsperf":
        cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(server.port), "-d", qfile, "-l", str(dur), "-c",
               str(a.dnsperf_c), "-q", str(a.dnsperf_q), "-t", "2"]
    elif test == "tcp-dnsperf":
        cmd = ["dnsperf", "-m", "tcp", "-s", "127.0.0.1", "-p", str(server.port), "-d", qfile, "-l", str(dur),
               "-c", str(a.dnsperf_c), "-q", str(a.dnsperf_q), "-t", "2"]
    else:
        raise KeyError(test)
    client_cpus = a.client_cpu if server.workers == 1 else a.all_cpus
    out, st = run_client(cmd, client_cpus, server, timeout=dur + 60)
    if "dnsperf" in test:
        r = parse_dnsperf(out)
    else:
        try:
            r = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            r = {}
    r.update(st)
    r["cmd"] = " ".join(os.path.basename(c) if c.startswith("/") else c for c in cmd)
    if "qps" not in r:
        r["error"] = out[-600:]
        return r
    run_s = r.get("run_s") or dur
    if r.get("sent"):
        r["lost_pct"] = round(100.0 * r.get("lost", 0) / r["sent"], 3)
    if r.get("completed"):
        r["server_us_per_query"] = round(1e6 * r["server_cpu_s"] / r["completed"], 3)
    r["server_cpu_pct"] = round(100.0 * r["server_cpu_s"] / run_s, 1)
    r["client_cpu_pct"] = round(100.0 * r["client_cpu_s"] / run_s, 1)
    r["other_cpu_pct"] = round(100.0 * r["other_cpu_s"] / r["wall_s"], 1)
    return r


def rcode_mismatch(r, shares):
    rc = r.get("rcodes") or {}
    tot = sum(rc.values())
    if not tot:
        return None
    bad = {k: round(rc.get(k, 0) / tot, 3) for k in set(shares) | set(rc)
           if abs(rc.get(k, 0) / tot - shares.get(k, 0)) > 0.02}
    return bad or None


# ------------------------------------------------------------------ summary
def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def summarize(results):
    summ = {}
    for size, sres in results["sizes"].items():
        rows = {}
        for key, t in sres["servers"].items():
            row = {k: t["info"].get(k) for k in ("kind", "workers", "load_s", "rss_mib", "rss_after_mib",
                                                 "threads", "correct", "error")}
            for test, runs in t["runs"].items():
                ok = [r for r in runs if "qps" in r]
                if not ok:
                    continue
                lat = [r.get("latency_us", {}) for r in ok]
                row[test] = {
                    "n": len(ok),
                    "qps": med([r["qps"] for r in ok]),
                    "qps_all": [round(r["qps"]) for r in ok],
                    "us_per_query": med([r.get("server_us_per_query") for r in ok]),
                    "us_per_query_all": [r.get("server_us_per_query") for r in ok],
                    "server_cpu_pct": med([r.get("server_cpu_pct") for r in ok]),
                    "client_cpu_pct": med([r.get("client_cpu_pct") for r in ok]),
                    "other_cpu_pct": med([r.get("other_cpu_pct") for r in ok]),
                    "lost_pct": med([r.get("lost_pct") for r in ok]),
                    "p50_us": med([x.get("p50") for x in lat]),
                    "p99_us": med([x.get("p99") for x in lat]),
                    "avg_us": med([x.get("avg") for x in lat]),
                    "rcode_mismatches": sum(1 for r in ok if r.get("rcode_mismatch")),
                }
            rows[key] = row
        summ[size] = rows
    return summ


def fnum(v, d=1):
    if v is None:
        return "-"
    if isinstance(v, (int, float)) and abs(v) >= 1000:
        return f"{v / 1000:.{d}f}k"
    return f"{v:.{d}f}"


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"


def tables(results):
    """Markdown tables: per data set, absolute figures, then ratios."""
    summ = results["summary"]
    L = []
    args = results["args"]
    L.append(f"Machine: {results['machine']}. Server pinned to CPU {args['server_cpu']}, client to CPU "
             f"{args['client_cpu']} (2-worker rows: both share CPUs {args['all_cpus']}). Median of "
             f"{args['repeats']} interleaved rounds, {args['duration']} s per run.\n")
    L.append("`us/q` = server CPU (utime+stime) per answered query, the steadiest figure; `srv%` = server "
             "CPU over the run (below ~95 the client was the limit: the qps is a lower bound); `other%` = "
             "CPU taken by everything else (noise). UDP/TCP = our loadgen (closed loop), dnsperf = "
             f"dnsperf -c {args['dnsperf_c']} -q {args['dnsperf_q']}. Latency: loadgen paced at half of "
             "NSD's UDP qps of the same round, p50/p99 in microseconds.\n")
    for size, rows in summ.items():
        sres = results["sizes"][size]
        d = sres["data"]
        L.append(f"\n### `{size}`: {d['wildcard_names']:,} wildcard + {d['exact_names']:,} exact names, "
                 f"{d['rrs']:,} RRs; paced latency at {fnum(sres.get('latency_qps'))} qps\n")
        L.append("| server | load s | RSS MiB | correct | UDP qps | us/q | srv% | lost% | other% | p50/p99 us "
                 "@paced | dnsperf UDP qps | TCP qps | TCP us/q | TCP srv% | dnsperf TCP qps |")
        L.append("|" + "---|" * 15)
        for key, r in rows.items():
            u, t, l, du, dt = (r.get(x, {}) for x in ("udp", "tcp", "latency", "udp-dnsperf", "tcp-dnsperf"))
            lat = f"{l['p50_us']:.0f} / {l['p99_us']:.0f}" if l.get("p99_us") is not None else "-"
            name = f"**{key}**" if r["kind"] == "xcc" else key
            L.append(f"| {name} | {fnum(r.get('load_s'), 2)} | {fnum(r.get('rss_mib'))} | {r.get('correct', '-')} "
                     f"| {fnum(u.get('qps'))} | {fnum(u.get('us_per_query'), 2)} | {fnum(u.get('server_cpu_pct'), 0)} "
                     f"| {fnum(u.get('lost_pct'), 2)} | {fnum(u.get('other_cpu_pct'), 0)} | {lat} "
                     f"| {fnum(du.get('qps'))} | {fnum(t.get('qps'))} | {fnum(t.get('us_per_query'), 2)} "
                     f"| {fnum(t.get('server_cpu_pct'), 0)} | {fnum(dt.get('qps'))} |")
        refs = [k for k in ("nsd", "knot") if k in rows]
        if refs:
            L.append("")
            head = "| server | " + " | ".join(
                f"UDP us/q ÷{k} | UDP qps ÷{k} | TCP qps ÷{k} | TCP us/q ÷{k} | p99 ÷{k}" for k in refs) + " |"
            L.append(head)
            L.append("|" + "---|" * (1 + 5 * len(refs)))
            for key, r in rows.items():
                if r["kind"] == "reflector" or r["kind"] in LOAD_ONLY:
                    continue
                cells = []
                for k in refs:
                    b = rows[k]

                    def g(row, test, f):
                        return (row.get(test) or {}).get(f)
                    cells += [ratio(g(r, "udp", "us_per_query"), g(b, "udp", "us_per_query")),
                              ratio(g(r, "udp", "qps"), g(b, "udp", "qps")),
                              ratio(g(r, "tcp", "qps"), g(b, "tcp", "qps")),
                              ratio(g(r, "tcp", "us_per_query"), g(b, "tcp", "us_per_query")),
                              ratio(g(r, "latency", "p99_us"), g(b, "latency", "p99_us"))]
                L.append(f"| {key} | " + " | ".join(cells) + " |")
        probs = [f"- {k}: {v['error']}" for k, v in sres["servers"].items() if v["info"].get("error")]
        probs += [f"- {k} probe failures: {v['info']['failures']}" for k, v in sres["servers"].items()
                  if v["info"].get("failures")]
        probs += [f"- {k}: rcode shares off in {r[t]['rcode_mismatches']} {t} run(s)" for k, r in rows.items()
                  for t in TESTS if (r.get(t) or {}).get("rcode_mismatches")]
        if probs:
            L.append("\n" + "\n".join(probs))
    L.append("\n" + targets(results))
    return "\n".join(L) + "\n"


def targets(results):
    """Issue 5's targets against this run (information, not a test)."""
    summ = results["summary"]
    L = ["### Issue-5 targets in this run", "", "| target | data set | measured | met |", "|---|---|---|---|"]

    def g(size, key, test, f):
        return ((summ.get(size, {}).get(key) or {}).get(test) or {}).get(f)

    def add(what, size, text, ok):
        L.append(f"| {what} | {size} | {text} | {'yes' if ok else '**no**'} |")
    for size in summ:
        x = g(size, "xcc", "udp", "us_per_query")
        if x is None:
            continue
        refl = g(size, "reflector", "udp", "us_per_query")
        if refl:
            add("UDP us/q ≤ 1.1× reflector", size, f"{x:.2f} / {refl:.2f} = {x / refl:.2f}×", x <= 1.1 * refl)
        nsd = g(size, "nsd", "udp", "us_per_query")
        if nsd and size in ("1k", "100k"):
            lim = 0.75 if size == "1k" else 0.6
            add(f"UDP us/q ≤ {lim}× NSD", size, f"{x:.2f} / {nsd:.2f} = {x / nsd:.2f}×", x <= lim * nsd)
        xq, nq = g(size, "xcc", "udp", "qps"), g(size, "nsd", "udp", "qps")
        if xq and nq:
            bound = (g(size, "xcc", "udp", "server_cpu_pct") or 0) < 95
            add("UDP qps ≥ NSD (where the client is not the limit)", size,
                f"{xq / 1000:.0f}k vs {nq / 1000:.0f}k = {xq / nq:.2f}×" + (" (client-bound)" if bound else ""),
                xq >= nq or bound)
        tq, kq = g(size, "xcc", "tcp", "qps"), g(size, "knot", "tcp", "qps")
        tu, ku = g(size, "xcc", "tcp", "us_per_query"), g(size, "knot", "tcp", "us_per_query")
        if tq and kq and tu and ku:
            add("TCP qps ≥ 1.5× Knot, or us/q ≤ 0.6× Knot", size,
                f"qps {tq / kq:.2f}×, us/q {tu / ku:.2f}×", tq >= 1.5 * kq or tu <= 0.6 * ku)
        xp, npp = g(size, "xcc", "latency", "p99_us"), g(size, "nsd", "latency", "p99_us")
        if xp is not None and npp:
            add("p99 at half NSD's max ≤ NSD's", size, f"{xp:.0f} vs {npp:.0f} us", xp <= npp)
        w2 = g(size, "xcc-w2", "udp", "us_per_query")
        if w2:
            sc = 2 * x / w2
            add("2 workers ≥ 1.8× one (capacity = cores / us/q)", size,
                f"us/q {x:.2f} → {w2:.2f}: {sc:.2f}×; measured qps {g(size, 'xcc-w2', 'udp', 'qps') or 0:.0f} "
                "(client on the same 2 cores)", sc >= 1.8)
    if "1m" in summ and "1k" in summ and g("1m", "xcc", "udp", "us_per_query") and g("1k", "xcc", "udp", "us_per_query"):
        a, b = g("1m", "xcc", "udp", "us_per_query"), g("1k", "xcc", "udp", "us_per_query")
        add("us/q at 1M names ≤ 1.1× at 1k", "1m", f"{a:.2f} / {b:.2f} = {a / b:.2f}×", a <= 1.1 * b)
    knot = (summ.get("1m", {}).get("knot") or {}).get("rss_mib") or 670
    for key in ("xcc", "xcc-snapshot"):
        r = summ.get("1m", {}).get(key)
        if not r:
            continue
        if r.get("rss_mib"):
            add(f"1M names RSS ≤ Knot's ({key})", "1m", f"{r['rss_mib']:.0f} MiB vs {knot:.0f} MiB",
                r["rss_mib"] <= knot)
        if r.get("load_s"):
            add(f"1M names loaded < 2 s ({key})", "1m", f"{r['load_s']:.2f} s", r["load_s"] < 2)
    return "\n".join(L)


# ------------------------------------------------------------------ main
def versions(xcc_bin):
    v = {}
    for name, cmd in (("xcc", [xcc_bin, "--version"]), ("nsd", ["nsd", "-v"]), ("knot", ["knotd", "-V"]),
                      ("dnsperf", ["dnsperf", "-h"])):
        try:
            out = sh(cmd, timeout=10).stdout
            m = re.search(r"(?:[Vv]ersion|xcc-responder) v?(\d+\.\d+\.\d+)", out)
            v[name] = m.group(1) if m else out.strip()[:60]
        except (OSError, subprocess.TimeoutExpired):
            v[name] = None
    rev = sh(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], timeout=10).stdout.strip()
    dirty = sh(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"], timeout=10).stdout.strip()
    v["xcc_commit"] = rev + ("+uncommitted changes" if dirty else "")
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="small,1k,100k", help="comma list of " + ",".join(SIZES))
    ap.add_argument("--servers", default="reflector,xcc,xcc-snapshot,nsd,knot", help="comma list of " + ",".join(SERVER_KINDS))
    ap.add_argument("--tests", default=",".join(TESTS), help="comma list of " + ",".join(TESTS) +
                    ", or 'none' (start, load time, RSS, probes only)")
    ap.add_argument("--duration", type=float, default=5, help="seconds per run")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved rounds")
    ap.add_argument("--workers", default="1", help="comma list, e.g. 1,2: a 2-worker server runs on both "
                    "CPUs and shares them with the client (scaling check)")
    ap.add_argument("--quick", action="store_true", help="smoke run: small, 1 round of 2 s")
    ap.add_argument("--out", help="JSON results path (default /tmp/xcc-dnsperf-<time>.json); a .md "
                    "with the tables is written beside it")
    ap.add_argument("--cache", default="/var/cache/xcc-dns/dnsperf",
                    help="data sets, compiled tools, server run directories")
    ap.add_argument("--no-build", action="store_true", help="use target/release/xcc-responder as it is")
    ap.add_argument("--binary", help="responder binary to measure (implies --no-build)")
    ap.add_argument("--server-cpu", default="1")
    ap.add_argument("--client-cpu", default="0")
    ap.add_argument("--all-cpus", default="0-1", help="CPUs of the multi-worker runs")
    ap.add_argument("--udp-c", type=int, default=16, help="loadgen UDP sockets")
    ap.add_argument("--udp-q", type=int, default=256, help="loadgen UDP queries outstanding (total)")
    ap.add_argument("--tcp-c", type=int, default=16, help="loadgen TCP connections")
    ap.add_argument("--tcp-q", type=int, default=512, help="loadgen TCP queries outstanding (total)")
    ap.add_argument("--dnsperf-c", type=int, default=20)
    ap.add_argument("--dnsperf-q", type=int, default=200)
    ap.add_argument("--latency-seconds", type=float, default=3)
    ap.add_argument("--latency-qps", type=int, help="fixed pace for the latency runs (default: half of "
                    "NSD's UDP qps of the round; without NSD, half of the slowest server's)")
    ap.add_argument("--nice", type=int, default=-20, help="niceness of servers and clients (0: as "
                    "they come); negative needs root")
    ap.add_argument("--query-count", type=int, default=300000, help="lines in the query file (looped)")
    ap.add_argument("--ready-timeout", type=float, default=300)
    ap.add_argument("--render", metavar="JSON", help="only re-print the tables of a results file (and "
                    "rewrite its .md)")
    a = ap.parse_args()
    if a.render:
        return render(a.render)
    if a.quick:
        a.sizes, a.repeats, a.duration, a.latency_seconds = "small", 1, 2, 2
    tests = [] if a.tests == "none" else a.tests.split(",")
    global NICE
    NICE = a.nice
    for t in tests:
        if t not in TESTS:
            raise SystemExit(f"unknown test {t}")
    kinds = a.servers.split(",")
    for k in kinds:
        if k not in SERVER_KINDS:
            raise SystemExit(f"unknown server {k}")
    need(["taskset", "gcc", "dig", "kdig"] + (["dnsperf"] if any("dnsperf" in t for t in tests) else [])
         + (["nsd"] if "nsd" in kinds else []) + (["knotd"] if "knot" in kinds else []))
    workers = [int(w) for w in a.workers.split(",")]
    # a SIGTERM/SIGHUP still stops every server (the finally below)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: (_ for _ in ()).throw(SystemExit("signal")))

    started = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = os.path.abspath(a.out or f"/tmp/xcc-dnsperf-{started}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    os.makedirs(a.cache, exist_ok=True)
    tools = build_tools(a.cache)
    xcc_bin = build_responder(a) if {"xcc", "xcc-snapshot"} & set(kinds) else None
    snap_tool = build_snapshot_tool(a.cache) if "xcc-snapshot" in kinds else None
    u = os.uname()
    results = {"started": started, "args": vars(a), "versions": versions(xcc_bin) if xcc_bin else {},
               "machine": f"{os.cpu_count()} CPUs ({cpu_model()}), Linux {u.release}, "
                          f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB",
               "sizes": {}}
    live = []
    try:
        for size in a.sizes.split(","):
            if size not in SIZES:
                raise SystemExit(f"unknown size {size}")
            data = os.path.join(a.cache, "data", size)
            log(f"[{size}] data set in {data}")
            meta = gen_data(size, data, a.query_count)
            if snap_tool:
                make_snapshot(snap_tool, data)
            expect = json.load(open(os.path.join(data, "probes.json")))
            # the readiness probe: the first wildcard answer
            e0 = expect[0]
            probe = (e0["qname"], e0["qtype"], sorted(x.split()[-1] for x in e0["answer"]))
            qfile = os.path.join(data, "queries.txt")
            rundir = os.path.join(a.cache, "run", size)
            shutil.rmtree(rundir, ignore_errors=True)
            sres = {"data": meta, "servers": {}}
            results["sizes"][size] = sres
            servers = []
            for w in workers:
                for k in kinds:
                    if (k == "reflector" or k in LOAD_ONLY) and w != 1:
                        continue
                    cpus = a.server_cpu if w == 1 else a.all_cpus
                    servers.append(Server(k, w, rundir, data, cpus, xcc_bin, tools))
            live.extend(servers)
            start_all(servers, sres, probe, expect, tests, a.ready_timeout, size)
            up = [s for s in servers if s.proc and s.proc.poll() is None]
            run_rounds(up, sres, a, tests, tools, qfile, meta, size,
                       save=lambda: json.dump(results, open(out, "w"), indent=1))
            if sres.get("latency_qps_all"):
                sres["latency_qps"] = med(sres["latency_qps_all"])
            for s in servers:
                if s.pids():
                    s.info["rss_after_mib"] = memory(s.pids())["rss_mib"]
                s.stop()
                if s.info.get("correct") == "yes":
                    del s.info["probe_answers"]  # the data's answers: no news
            json.dump(results, open(out, "w"), indent=1)
    finally:
        for s in live:
            s.stop()
    results["summary"] = summarize(results)
    json.dump(results, open(out, "w"), indent=1)
    render(out)


def start_all(servers, sres, probe, expect, tests, ready_timeout, size):
    """Start the servers one at a time (so that each load time is its own),
    weigh them and probe them; load-only servers are stopped again."""
    for s in servers:
        ok = s.start(probe, ready_timeout)
        sres["servers"][s.key] = {"info": s.info, "runs": {t: [] for t in tests}}
        if not ok:
            log(f"[{size}] {s.key}: {s.info['error']}")
            s.stop()
            continue
        pin(s.pids(), s.cpus)
        time.sleep(1.0)  # let it settle before RSS is read
        if s.kind in ("xcc", "xcc-snapshot") and size not in ("small", "1k"):
            wait_for_huge_pages(s)
        s.info.update(memory(s.pids()))
        if s.real:
            fails, got = check(s.port, expect, s.tcp)
            s.info["correct"] = "yes" if not fails else f"NO ({len(fails)})"
            s.info["failures"] = fails
            s.info["probe_answers"] = got
        else:
            s.info["correct"] = "n/a"
        log(f"[{size}] {s.key}: port {s.port} load {s.info['load_s']} s, RSS {s.info['rss_mib']} MiB, "
            f"{s.info['threads']} threads, correct {s.info['correct']}")
        for f in s.info.get("failures", []):
            log(f"    {f}")
        if s.load_only:
            s.stop()  # its memory is not needed any more
    # the servers must agree with each other, not only with the data
    answers = {s.key: s.info["probe_answers"] for s in servers if s.info.get("probe_answers")}
    if len(answers) > 1:
        ref_key, ref = next(iter(answers.items()))
        sres["disagreements"] = [f"{k} vs {ref_key}: {q}" for k, v in answers.items() for q in v
                                 if v[q] != ref.get(q)]
        for d in sres["disagreements"]:
            log(f"[{size}] DISAGREE {d}")


def wait_for_huge_pages(s, timeout=15.0):
    """xcc moves a big table onto huge pages once it has been served 5 s
    unchanged (about 1 s of one core at 1M names, once per table): wait for
    it, so that no round is charged for it, and note what it took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        text = re.sub(r"\x1b\[[0-9;]*m", "", open(s.logf.name, errors="replace").read())
        m = re.search(r"moved onto huge pages.*?\bms=([\d.]+)", text)
        if m:
            s.info["huge_pages_ms"] = round(float(m.group(1)))
            log(f"[{s.key}] table moved onto huge pages in {s.info['huge_pages_ms']} ms")
            return
        time.sleep(0.1)
    log(f"[{s.key}] no move onto huge pages within {timeout} s")


def run_rounds(up, sres, a, tests, tools, qfile, meta, size, save):
    """The interleaved rounds: every server through every load test, the
    order rotated by one each round; then the paced latency runs, at one
    rate for all (known only once this round's NSD run is done)."""
    if not tests or not up:
        return
    # a short warm-up, so that first-touch page faults are not in round 0
    for s in up:
        sh(["taskset", "-c", a.client_cpu, tools["loadgen"], "-p", str(s.port), "-d", qfile, "-l", "1",
            "-c", "8", "-q", "128"], timeout=30)
    throughput = [t for t in tests if t != "latency"]
    for rnd in range(a.repeats):
        order = up[rnd % len(up):] + up[:rnd % len(up)]
        for s in order:
            for test in throughput:
                if test.startswith("tcp") and not s.tcp:
                    continue
                r = one_run(test, s, a, tools, qfile, None)
                record(sres, s, test, rnd, r, meta, size)
        if "latency" in tests:
            rate = a.latency_qps or pace(sres, rnd)
            sres.setdefault("latency_qps_all", []).append(rate)
            for s in order:
                if s.real:
                    record(sres, s, "latency", rnd, one_run("latency", s, a, tools, qfile, rate), meta, size)
        save()


def render(path):
    """Print the tables of a results file and write them beside it (.md)."""
    results = json.load(open(path))
    results["summary"] = summarize(results)
    md = tables(results)
    v = results.get("versions", {})
    head = (f"# xcc-dns dnsperf harness, {results['started']}\n\n"
            f"xcc-responder {v.get('xcc')} (commit {v.get('xcc_commit')}), NSD {v.get('nsd')}, "
            f"Knot DNS {v.get('knot')}, dnsperf {v.get('dnsperf')}.\n\n")
    md_path = os.path.splitext(path)[0] + ".md"
    open(md_path, "w").write(head + md)
    print("\n" + head + md)
    log(f"results: {path}\n         {md_path}")


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"


def pace(sres, rnd):
    """Half of NSD's UDP qps in this round (the issue's latency point);
    without NSD, half of the slowest real server's."""
    def qps(key):
        runs = [r for r in sres["servers"].get(key, {}).get("runs", {}).get("udp", []) if r.get("round") == rnd]
        return runs[-1].get("qps") if runs else None
    n = qps("nsd")
    if not n:
        vals = [qps(k) for k, v in sres["servers"].items() if v["info"].get("kind") not in ("reflector",)]
        vals = [v for v in vals if v]
        n = min(vals) if vals else 20000
    return int(n / 2)


def record(sres, s, test, rnd, r, meta, size):
    r["round"] = rnd
    if s.real:
        r["rcode_mismatch"] = rcode_mismatch(r, meta["query_shares"])
    sres["servers"][s.key]["runs"][test].append(r)
    lat = r.get("latency_us", {})
    log(f"[{size} r{rnd}] {s.key:9s} {test:12s} qps {r.get('qps', 0):9.0f}  us/q {r.get('server_us_per_query', 0):6.2f}"
        f"  srv {r.get('server_cpu_pct', 0):5.1f}%  cli {r.get('client_cpu_pct', 0):5.1f}%  other "
        f"{r.get('other_cpu_pct', 0):5.1f}%  lost {r.get('lost_pct', '-')}%"
        + (f"  p50 {lat['p50']} p99 {lat['p99']} us" if "p99" in lat else "")
        + (f"  RCODES OFF {r['rcode_mismatch']}" if r.get("rcode_mismatch") else "")
        + (f"  ERROR {r['error'][-200:]!r}" if r.get("error") else ""))


if __name__ == "__main__":
    main()
