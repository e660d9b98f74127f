#!/usr/bin/env python3
"""Draw run.py's JSON results as one SVG (hand-written, stdlib only).

Panels, each grouped by data set with one bar per server:
  1. UDP server CPU microseconds per answered query (lower is better): the
     steadiest figure on a noisy machine, min-max over the rounds as a
     whisker;
  2. UDP queries/s (closed-loop loadgen, median), hatched where the server
     core was less than 95 % busy (the client, or other work on the machine,
     was the limit: a lower bound);
  3. TCP queries/s (pipelined loadgen), drawn the same way.

    python3 chart.py results.json [more.json ...] -o chart.svg [--servers xcc,nsd,knot]

Several JSON files are merged by data set: each data set is drawn whole
from the first file that has it (rows of different runs are never mixed).
"""
import argparse
import json
import sys
from xml.sax.saxutils import escape

# one colour per server, fixed so that charts from different runs compare
COLOURS = {"reflector": "#9e9e9e", "xcc": "#d62728", "nsd": "#1f77b4", "knot": "#2ca02c"}
EXTRA = ["#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
SIZE_ORDER = ["small", "1k", "100k", "1m"]
FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"


def colour(key, seen):
    base = key.split("-w")[0]
    if key in COLOURS:
        return COLOURS[key]
    if key not in seen:
        seen[key] = EXTRA[len(seen) % len(EXTRA)] if base not in COLOURS else COLOURS[base]
    return seen[key]


def nice_max(v):
    """A round axis maximum at or above v."""
    if v <= 0:
        return 1
    m = 10 ** len(str(int(v))) / 10
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * m >= v:
            return step * m
    return 10 * m


def fmt(v, unit):
    if unit == "qps":
        return f"{v / 1000:.0f}k" if v % 1000 == 0 or v >= 10000 else f"{v / 1000:.1f}k"
    return f"{v:.2f}"


def panel(out, x0, y0, w, h, title, groups, servers, get, unit, seen):
    """A grouped bar chart. get(size, server) -> (value, lo, hi, bound) or None."""
    vals = [get(g, s) for g in groups for s in servers]
    # four grid steps of a round size
    # (and room above the tallest bar for its label)
    step = nice_max(1.08 * max([v[2] if v[2] is not None else v[0] for v in vals if v] or [1]) / 4)
    top = 4 * step
    out.append(f"<text x='{x0}' y='{y0 - 12}' font-size='15' font-weight='bold' {FONT}>{escape(title)}</text>")
    # axis and grid
    for i in range(5):
        yv = top * i / 4
        y = y0 + h - h * i / 4
        out.append(f"<line x1='{x0}' y1='{y:.1f}' x2='{x0 + w}' y2='{y:.1f}' stroke='#ddd'/>")
        out.append(f"<text x='{x0 - 6}' y='{y + 4:.1f}' font-size='11' text-anchor='end' {FONT}>"
                   f"{fmt(yv, unit)}</text>")
    out.append(f"<line x1='{x0}' y1='{y0 + h}' x2='{x0 + w}' y2='{y0 + h}' stroke='#333'/>")
    gw = w / max(1, len(groups))
    bw = min(34, (gw - 16) / max(1, len(servers)))
    for gi, g in enumerate(groups):
        gx = x0 + gi * gw + (gw - bw * len(servers)) / 2
        out.append(f"<text x='{x0 + gi * gw + gw / 2:.1f}' y='{y0 + h + 18}' font-size='12' text-anchor='middle' "
                   f"{FONT}>{escape(g)}</text>")
        for si, s in enumerate(servers):
            v = get(g, s)
            if not v:
                continue
            val, lo, hi, bound = v
            bx = gx + si * bw
            bh = h * val / top
            c = colour(s, seen)
            fill = f"url(#hatch-{s})" if bound else c
            out.append(f"<rect x='{bx + 1:.1f}' y='{y0 + h - bh:.1f}' width='{bw - 2:.1f}' height='{bh:.1f}' "
                       f"fill='{fill}' stroke='{c}'><title>{escape(s)} {escape(g)}: {fmt(val, unit)}"
                       f"{' (client-bound)' if bound else ''}</title></rect>")
            if lo is not None and hi is not None and hi > lo:
                cx = bx + bw / 2
                out.append(f"<line x1='{cx:.1f}' y1='{y0 + h - h * hi / top:.1f}' x2='{cx:.1f}' "
                           f"y2='{y0 + h - h * lo / top:.1f}' stroke='#000' stroke-width='1'/>")
            out.append(f"<text x='{bx + bw / 2:.1f}' y='{y0 + h - bh - 4:.1f}' font-size='9' text-anchor='middle' "
                       f"{FONT}>{fmt(val, unit)}</text>")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+")
    ap.add_argument("-o", "--out", default="chart.svg")
    ap.add_argument("--servers", help="comma list of the rows to draw, in this order (default: all "
                    "that ran load tests)")
    a = ap.parse_args()
    summ, meta, runs = {}, None, []
    for path in a.results:
        r = json.load(open(path))
        meta = meta or r
        runs.append(r.get("started", "?"))
        for size, rows in r.get("summary", {}).items():
            summ.setdefault(size, rows)  # a data set comes whole from one run
    groups = [g for g in SIZE_ORDER if g in summ] + [g for g in summ if g not in SIZE_ORDER]
    servers = []
    for g in groups:
        for k, row in summ[g].items():
            if k not in servers and any(t in row for t in ("udp", "tcp")):
                servers.append(k)
    if a.servers:
        servers = [s for s in a.servers.split(",") if s in servers]

    def getter(test, field):
        def get(g, s):
            t = (summ[g].get(s) or {}).get(test)
            if not t or t.get(field) is None:
                return None
            if field == "us_per_query":
                alls = [x for x in t.get("us_per_query_all", []) if x is not None]
                return t[field], min(alls, default=None), max(alls, default=None), False
            return t[field], None, None, (t.get("server_cpu_pct") or 100) < 95
        return get

    W, PH, PW, X0 = 900, 220, 780, 90
    seen = {}
    out = []
    y = 70
    panels = [("UDP: server CPU µs per answered query (lower is better; whisker = min–max of rounds)",
               getter("udp", "us_per_query"), "us"),
              ("UDP: queries/s, closed-loop loadgen (hatched: server core < 95 % busy: client-bound or noise)",
               getter("udp", "qps"), "qps"),
              ("TCP: queries/s, pipelined loadgen (hatched: server core < 95 % busy)", getter("tcp", "qps"), "qps")]
    body = []
    for title, get, unit in panels:
        if not any(get(g, s) for g in groups for s in servers):
            continue
        panel(body, X0, y + 30, PW, PH, title, groups, servers, get, unit, seen)
        y += PH + 90
    # legend
    lx = X0
    for s in servers:
        body.append(f"<rect x='{lx}' y='{y}' width='14' height='14' fill='{colour(s, seen)}'/>"
                    f"<text x='{lx + 19}' y='{y + 12}' font-size='12' {FONT}>{escape(s)}</text>")
        lx += 30 + 8 * len(s)
    H = y + 40
    out.append(f"<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{H}' viewBox='0 0 {W} {H}'>")
    out.append("<defs>")
    for s in servers:
        c = colour(s, seen)
        out.append(f"<pattern id='hatch-{s}' patternUnits='userSpaceOnUse' width='6' height='6' "
                   f"patternTransform='rotate(45)'><rect width='6' height='6' fill='white'/>"
                   f"<line x1='0' y1='0' x2='0' y2='6' stroke='{c}' stroke-width='3'/></pattern>")
    out.append("</defs>")
    out.append(f"<rect width='{W}' height='{H}' fill='white'/>")
    args = meta.get("args", {})
    out.append(f"<text x='{X0}' y='28' font-size='17' font-weight='bold' {FONT}>xcc-responder vs NSD and Knot DNS, "
               f"one server core</text>")
    sub = (f"{meta.get('machine', '')}; median of {args.get('repeats')} rounds × {args.get('duration')} s; "
           f"run{'s' if len(runs) > 1 else ''} {', '.join(runs)}")
    out.append(f"<text x='{X0}' y='48' font-size='11' fill='#555' {FONT}>{escape(sub)}</text>")
    out += body
    out.append("</svg>")
    open(a.out, "w").write("\n".join(out) + "\n")
    print(a.out)


if __name__ == "__main__":
    sys.exit(main())
