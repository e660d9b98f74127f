#!/usr/bin/env python3
"""Writes the hand-made seeds (`hand-*.bin`) into both corpus directories.

    python3 fuzz/seeds.py

The seeds aim at the corners of the codec that the captured fixtures in
wire/tests/vectors/ do not reach: long compression pointer chains (the
MAX_POINTERS bound and one past it), names of exactly 255 octets reached
directly and through compression (and 256, rejected), OPT with many options,
every typed RDATA (and the RFC 3597 opaque cases), mixed-case names that the
writer's case-insensitive compressor folds together, several questions,
offsets past 0x3FFF (beyond what a pointer can reach), and one message per
structural error the parser reports. Re-running overwrites the files with
the same bytes (the output is deterministic).
"""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ["parse_message", "roundtrip"]

A, NS, CNAME, SOA, PTR, HINFO, MX, TXT, AAAA, SRV, OPT = 1, 2, 5, 6, 12, 13, 15, 16, 28, 33, 41
IN, CH = 1, 3


def header(qd=0, an=0, ns=0, ar=0, flags=0x0100, ident=0x1234):
    return struct.pack(">HHHHHH", ident, flags, qd, an, ns, ar)


def name(text):
    """Uncompressed wire form of a dotted name ('' or '.' is the root)."""
    out = b""
    for label in text.strip(".").split("."):
        if label:
            raw = label.encode()
            assert len(raw) <= 63
            out += bytes([len(raw)]) + raw
    return out + b"\x00"


def labels(text):
    """Labels without the root byte, to put before a pointer."""
    return name(text)[:-1]


def ptr(offset):
    assert 12 <= offset <= 0x3FFF
    return bytes([0xC0 | (offset >> 8), offset & 0xFF])


def question(qname, qtype=A, qclass=IN):
    return qname + struct.pack(">HH", qtype, qclass)


def rr(owner, rtype, rclass, ttl, rdata):
    return owner + struct.pack(">HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def opt(payload=1232, ext_rcode=0, version=0, flags=0, options=b""):
    ttl = (ext_rcode << 24) | (version << 16) | flags
    return rr(b"\x00", OPT, payload, ttl, options)


def option(code, data=b""):
    return struct.pack(">HH", code, len(data)) + data


def soa(mname, rname, serial=2024010101, refresh=3600, retry=600, expire=86400, minimum=300):
    return mname + rname + struct.pack(">IIIII", serial, refresh, retry, expire, minimum)


def long_name(total):
    """An uncompressed name of exactly `total` octets (root included)."""
    out = b""
    left = total - 1
    while left > 0:
        size = min(63, left - 1)
        out += bytes([size]) + b"x" * size
        left -= 1 + size
    return out + b"\x00"


def seeds():
    s = {}

    # --- compression pointer chains -------------------------------------
    # Question 1 is "a." at 12; question k is a pointer to question k-1, so
    # the name of question n goes through n-1 pointers. 128 questions reach
    # MAX_POINTERS (127) exactly; 129 go one past it and must be rejected.
    def pointer_chain(count):
        body = question(name("a"))
        prev = 12
        for _ in range(count - 1):
            here = 12 + len(body)
            body += question(ptr(prev))
            prev = here
        return header(qd=count, flags=0) + body

    s["hand-ptr-chain-127.query"] = pointer_chain(128)
    s["hand-ptr-chain-128.query"] = pointer_chain(129)

    # Each question adds one 1-octet label in front of the previous name, so
    # question n is n labels = 2n + 1 octets: 127 questions end on a 255-octet
    # name (126 pointers deep), a 128th is 257 octets and rejected.
    def label_chain(count):
        body = b""
        prev = None
        for i in range(count):
            here = 12 + len(body)
            label = bytes([1, ord("a") + i % 26])
            body += question(label + (ptr(prev) if prev else b"\x00"))
            prev = here
        return header(qd=count, flags=0) + body

    s["hand-label-chain-255.query"] = label_chain(127)
    s["hand-label-chain-257.query"] = label_chain(128)

    # A realistic response whose names point at names that themselves end in
    # pointers: answer owner -> question, CNAME target "alias" -> suffix of
    # the question, second owner -> the CNAME target (two hops), SOA names
    # into the middle of earlier names, glue owner -> the SOA MNAME.
    q = name("www.Sub.Example.test")  # at 12: www(12) Sub(16) Example(20) test(28)
    body = question(q)
    cname_rdata_at = 12 + len(body) + 2 + 10
    body += rr(ptr(12), CNAME, IN, 300, labels("alias") + ptr(16))
    body += rr(ptr(cname_rdata_at), A, IN, 300, bytes([192, 0, 2, 1]))
    mname_at = 12 + len(body) + 2 + 10
    auth = rr(ptr(20), SOA, IN, 3600, soa(labels("ns1") + ptr(20), labels("hostmaster") + ptr(20)))
    body += auth
    body += rr(ptr(mname_at), A, IN, 3600, bytes([192, 0, 2, 53]))
    body += opt(flags=0x8000)
    s["hand-ptr-chain.response"] = header(qd=1, an=2, ns=1, ar=2, flags=0x8500) + body

    # --- names of the maximum length --------------------------------------
    body = question(long_name(255), AAAA)
    body += opt(4096)
    s["hand-max-name-255.query"] = header(qd=1, ar=1) + body
    s["hand-max-name-256.query"] = header(qd=1) + question(
        bytes([63]) + b"y" * 63 + long_name(192)
    )

    # 255 octets reached through compression: a 199-octet question name and
    # an answer owner that adds 56 octets of labels in front of a pointer.
    q = long_name(199)
    body = question(q, TXT)
    owner = bytes([55]) + b"z" * 55 + ptr(12)  # 56 + 199 = 255
    body += rr(owner, TXT, IN, 60, b"\x05hello\x00" + b"\xff" + b"t" * 255)
    body += rr(ptr(12), CNAME, IN, 60, bytes([55]) + b"Z" * 55 + ptr(12))
    s["hand-max-name-compressed.response"] = header(qd=1, an=2, flags=0x8400) + body

    # --- EDNS -------------------------------------------------------------
    options = (
        option(10, bytes(range(8)) + bytes(range(100, 116)))  # COOKIE client+server
        + option(3)  # NSID, empty in a query
        + option(8, b"\x00\x01\x18\x00\xc0\x00\x02")  # ECS 192.0.2.0/24
        + option(11)  # TCP keepalive
        + option(15, b"\x00\x12" + b"prohibited")  # EDE 18
        + option(65001, b"\xde\xad")  # local/experimental
        + option(12, b"\x00" * 24)  # PADDING
    )
    body = question(name("www.xcc.test"))
    body += opt(4096, flags=0x8000, options=options)
    s["hand-opt-options.query"] = header(qd=1, ar=1, flags=0x0120) + body

    body = question(name("xcc.test"), SOA)
    body += opt(1232, ext_rcode=1, version=0, flags=0x8000, options=option(3, b"xcc-ns-1"))
    s["hand-opt-badvers.response"] = header(qd=1, ar=1, flags=0x8100) + body

    # OPT advertising a payload below 512, version 255, every flag bit set,
    # and an OPT placed before another additional record.
    body = question(name("xcc.test"), A)
    body += opt(0, ext_rcode=0xFF, version=255, flags=0xFFFF)
    body += rr(ptr(12), A, IN, 1, bytes(4))
    s["hand-opt-odd.query"] = header(qd=1, ar=2, flags=0x0100) + body

    # --- every typed RDATA, and the RFC 3597 opaque cases -----------------
    q = name("all.Types.xcc.test")  # all(12) Types(16) xcc(22) test(26)
    body = question(q, 255)
    body += rr(ptr(12), A, IN, 1, bytes([10, 0, 0, 1]))
    body += rr(ptr(12), AAAA, IN, 1, bytes(range(16)))
    body += rr(ptr(12), NS, IN, 1, labels("ns1") + ptr(22))
    body += rr(ptr(16), CNAME, IN, 1, name("target.example"))
    body += rr(ptr(12), PTR, IN, 1, labels("ptr") + ptr(16))
    body += rr(ptr(12), MX, IN, 1, struct.pack(">H", 10) + labels("MX") + ptr(22))
    body += rr(ptr(12), TXT, IN, 1, b"\x00\x03abc\x00")
    # SRV target compressed on the wire (receivers may decompress it,
    # RFC 3597 §4); the writer spells it out.
    body += rr(ptr(12), SRV, IN, 1, struct.pack(">HHH", 1, 2, 443) + labels("web") + ptr(16))
    body += rr(ptr(12), HINFO, IN, 1, b"\x07RFC8482\x00")
    body += rr(ptr(12), 65280, IN, 1, b"\x01\x02\x03")
    body += rr(ptr(12), 65281, IN, 1, b"")
    body += rr(ptr(12), A, CH, 1, b"\x01\x02")  # A outside IN: opaque
    body += rr(ptr(12), SRV, CH, 1, b"\xc0\x0c")  # SRV outside IN: opaque
    body += rr(ptr(12), AAAA, 254, 1, b"")
    body += rr(ptr(12), SOA, IN, 1, soa(labels("Ns") + ptr(22), name("."), 0xFFFFFFFF))
    body += rr(b"\x00", NS, IN, 0x7FFFFFFF, b"\x00")  # root owner, root RDATA
    s["hand-all-types.response"] = header(qd=1, an=16, flags=0x8400) + body

    # --- letter case ------------------------------------------------------
    # Names equal to earlier ones but for letter case, uncompressed: the
    # writer's compressor matches them case-insensitively (RFC 4343) and
    # points them at the earlier spelling.
    q = name("KuArD.Example.TEST")
    body = question(q)
    body += rr(name("kuard.example.test"), CNAME, IN, 30, name("WWW.example.test"))
    body += rr(name("www.EXAMPLE.test"), A, IN, 30, bytes([192, 0, 2, 7]))
    s["hand-mixedcase.response"] = header(qd=1, an=2, flags=0x8400) + body

    # --- several questions ------------------------------------------------
    body = question(name("one.xcc.test"))
    body += question(name("Two.XCC.test"), AAAA)
    body += question(ptr(12), MX)
    s["hand-multi-question.query"] = header(qd=3, flags=0x0100) + body

    # --- offsets past 0x3FFF ---------------------------------------------
    # Enough TXT records that the last names sit beyond what a pointer can
    # reach; the writer must then spell them out.
    q = name("big.xcc.test")
    body = question(q, TXT)
    count = 0
    while 12 + len(body) < 0x4000 + 600:
        txt = b"\xff" + bytes([count % 256]) * 255
        body += rr(labels("r%d" % count) + ptr(12), TXT, IN, 1, txt)
        count += 1
    s["hand-past-16k.response"] = header(qd=1, an=count, flags=0x8400) + body

    # The exact edge of what a pointer can reach. These messages are
    # written the way our writer writes them, so the offsets below are
    # offsets in the writer's output too. In the first, the owner "a.b" sits
    # at 0x3FFE, so its suffix "b.big.xcc.test" starts at 0x4000: a later
    # "b.big.xcc.test" must be spelled out (a pointer to 0x4000 would read
    # as label type 0x80), while "a.b.big.xcc.test" may point at 0x3FFE. In
    # the second, a name starts at 0x3FFF, the largest offset a pointer holds.
    def pad_to(body, offset, count):
        """Appends TXT records under the question name until the next byte
        is at `offset`; returns the new body and record count."""
        while True:
            gap = offset - (12 + len(body))
            assert gap == 0 or gap >= 13
            if gap == 0:
                return body, count
            if gap - 12 <= 4096:
                rdlen = gap - 12
            else:
                rdlen = 4096 if gap - 12 - 4096 >= 13 else 4000
            txt = b""
            while rdlen - len(txt) > 256:
                txt += b"\xff" + b"p" * 255
            txt += bytes([rdlen - len(txt) - 1]) + b"p" * (rdlen - len(txt) - 1)
            body += rr(ptr(12), TXT, IN, 1, txt)
            count += 1

    q = name("big.xcc.test")
    body, count = pad_to(question(q, TXT), 0x3FFE, 0)
    body += rr(labels("a.b") + ptr(12), A, IN, 1, bytes([192, 0, 2, 1]))
    body += rr(labels("b") + ptr(12), A, IN, 1, bytes([192, 0, 2, 2]))
    body += rr(ptr(0x3FFE), A, IN, 1, bytes([192, 0, 2, 3]))
    s["hand-pointer-limit-4000.response"] = header(qd=1, an=count + 3, flags=0x8400) + body

    body, count = pad_to(question(q, TXT), 0x3FFF, 0)
    body += rr(labels("c") + ptr(12), A, IN, 1, bytes([192, 0, 2, 4]))
    body += rr(ptr(0x3FFF), A, IN, 1, bytes([192, 0, 2, 5]))
    s["hand-pointer-limit-3fff.response"] = header(qd=1, an=count + 2, flags=0x8400) + body

    # --- one message per structural error ---------------------------------
    base_q = question(name("e.xcc.test"))
    s["hand-err-short-header"] = b"\x12\x34\x01\x00\x00\x01"
    s["hand-err-forward-pointer.query"] = header(qd=1) + question(ptr(14) + b"\x00")
    s["hand-err-pointer-loop.query"] = header(qd=1) + b"\x01a\xc0\x10\xc0\x0c" + b"\x00\x01\x00\x01"
    s["hand-err-pointer-header.query"] = header(qd=1) + question(b"\xc0\x05")
    s["hand-err-reserved-label.query"] = header(qd=1) + question(b"\x41a\x00")
    s["hand-err-trailing.query"] = header(qd=1) + base_q + b"\x00"
    s["hand-err-count-past-end.query"] = header(qd=2) + base_q
    s["hand-err-rdlength.response"] = header(qd=1, an=1) + base_q + ptr(12) + struct.pack(
        ">HHIH", A, IN, 1, 8
    ) + bytes(4)
    s["hand-err-a-short.response"] = header(qd=1, an=1) + base_q + rr(ptr(12), A, IN, 1, bytes(3))
    s["hand-err-name-past-rdata.response"] = header(qd=1, an=1) + base_q + rr(
        ptr(12), CNAME, IN, 1, b"\x03www"
    )
    s["hand-err-txt-short.response"] = header(qd=1, an=1) + base_q + rr(ptr(12), TXT, IN, 1, b"\x05ab")
    s["hand-err-opt-in-answer.response"] = header(qd=1, an=1) + base_q + opt()
    s["hand-err-two-opt.query"] = header(qd=1, ar=2) + base_q + opt() + opt()
    s["hand-err-opt-owner.query"] = header(qd=1, ar=1) + base_q + rr(ptr(12), OPT, 1232, 0, b"")
    s["hand-err-opt-option.query"] = header(qd=1, ar=1) + base_q + opt(options=b"\x00\x0a\x00\x09abc")
    return s


def main():
    for target in TARGETS:
        directory = os.path.join(HERE, "corpus", target)
        os.makedirs(directory, exist_ok=True)
        for stem, data in seeds().items():
            with open(os.path.join(directory, stem + ".bin"), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
