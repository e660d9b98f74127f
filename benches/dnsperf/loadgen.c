/*
 * loadgen.c - the harness's own DNS load generator (UDP and pipelined TCP).
 *
 * Why not only dnsperf: on this 2-core machine the client gets one core and
 * dnsperf spends more CPU per query than the fastest servers do, so it
 * measures itself. This generator does the least work per query it can:
 * queries are encoded once at start, UDP goes out and comes back in
 * sendmmsg()/recvmmsg() batches, TCP frames are written and read in bulk,
 * and the clock is read once per batch, not per packet.
 *
 * Modes
 *   closed loop (default): keep -q queries outstanding in total, spread over
 *     -c sockets (UDP) or connections (TCP); a new query goes out as soon as
 *     an answer (or a timeout) frees a slot. The rate is then whatever the
 *     server, or this client, can sustain.
 *   paced (-Q RATE): send RATE queries per second on a fixed schedule,
 *     whatever comes back (open loop), so latency is service time plus
 *     queueing at that load, not the queue this client builds.
 *
 * Input: a dnsperf query file ("name TYPE" per line). Queries carry no EDNS
 * and RD=0, like dnsperf without -e. A query with no answer after -t ms
 * counts as lost (a later answer counts as unexpected).
 *
 * Output: one JSON object on stdout (counts, rcodes, latency percentiles in
 * microseconds, from a 1 us histogram up to 1 s).
 *
 *   cc -O2 -o loadgen loadgen.c
 *   ./loadgen -p 5353 -d queries.txt -l 5 [-m tcp] [-c 16] [-q 256] [-Q 50000]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXCONN 256
#define BATCH 64
#define HIST_US 1000000 /* 1 us buckets up to 1 s; later answers land in the last */
#define MAXQ 300        /* longest encoded query (12 + 255 + 4, rounded up) */
#define RBUF (256 * 1024)

typedef struct {
    uint16_t len;
    unsigned char wire[MAXQ];
} query_t;

typedef struct {
    int fd;
    int tcp;
    int outstanding;
    uint16_t next_id;
    uint64_t sent_ns[65536]; /* send time by query ID; 0 = slot free */
    uint16_t ring[65536];    /* IDs in send order, for timeouts */
    uint32_t ring_head, ring_tail;
    /* TCP only: bytes not yet written, bytes read but not yet a whole frame */
    unsigned char *wbuf;
    size_t wlen, woff, wcap;
    unsigned char *rbuf;
    size_t rlen;
} conn_t;

static query_t *Q;
static size_t nq, qpos;
static uint32_t *hist;
static uint64_t n_sent, n_recv, n_lost, n_unexpected, n_tc, n_late_sched, n_reconnect;
static uint64_t rcodes[16];
static double lat_sum_us;
static uint64_t lat_max_ns, lat_min_ns = UINT64_MAX;
static struct sockaddr_in server;
static int epfd;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int qtype_of(const char *t)
{
    static const struct { const char *n; int v; } m[] = {
        {"A", 1}, {"NS", 2}, {"CNAME", 5}, {"SOA", 6}, {"PTR", 12}, {"MX", 15},
        {"TXT", 16}, {"AAAA", 28}, {"SRV", 33}, {"ANY", 255}, {NULL, 0}};
    for (int i = 0; m[i].n; i++)
        if (!strcasecmp(m[i].n, t)) return m[i].v;
    return -1;
}

/* wire form of one question; -1 when the name is not a valid name */
static int encode(const char *name, int qtype, unsigned char *out)
{
    memset(out, 0, 12);
    out[5] = 1; /* QDCOUNT 1; flags 0 (RD=0) */
    int o = 12;
    size_t total = strlen(name);
    if (total && name[total - 1] == '.') total--;
    const char *p = name, *end = name + total;
    while (p < end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t l = dot ? (size_t)(dot - p) : (size_t)(end - p);
        if (l == 0 || l > 63 || o + 1 + (int)l > 12 + 254) return -1;
        out[o++] = (unsigned char)l;
        memcpy(out + o, p, l);
        o += (int)l;
        p += l + (dot ? 1 : 0);
    }
    out[o++] = 0;
    out[o++] = (unsigned char)(qtype >> 8);
    out[o++] = (unsigned char)qtype;
    out[o++] = 0;
    out[o++] = 1; /* class IN */
    return o;
}

static void load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) { perror(path); exit(2); }
    size_t cap = 1 << 16;
    Q = malloc(cap * sizeof *Q);
    char line[1024], name[512], type[32];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || sscanf(line, "%511s %31s", name, type) != 2) continue;
        int t = qtype_of(type);
        if (t < 0) continue;
        if (nq == cap) { cap *= 2; Q = realloc(Q, cap * sizeof *Q); }
        int n = encode(name, t, Q[nq].wire);
        if (n < 0) continue;
        Q[nq].len = (uint16_t)n;
        nq++;
    }
    fclose(f);
    if (!nq) { fprintf(stderr, "no queries in %s\n", path); exit(2); }
}

static void record_answer(conn_t *c, const unsigned char *m, size_t len, uint64_t t)
{
    if (len < 12 || !(m[2] & 0x80)) { n_unexpected++; return; }
    uint16_t id = (uint16_t)((m[0] << 8) | m[1]);
    uint64_t st = c->sent_ns[id];
    if (!st) { n_unexpected++; return; } /* after its timeout, or never asked */
    c->sent_ns[id] = 0;
    c->outstanding--;
    n_recv++;
    rcodes[m[3] & 0x0f]++;
    if (m[2] & 0x02) n_tc++;
    uint64_t ns = t > st ? t - st : 0;
    lat_sum_us += (double)ns / 1e3;
    if (ns > lat_max_ns) lat_max_ns = ns;
    if (ns < lat_min_ns) lat_min_ns = ns;
    uint64_t us = ns / 1000;
    hist[us >= HIST_US ? HIST_US - 1 : us]++;
}

/* frees the slots of queries older than the timeout, oldest first */
static void expire(conn_t *c, uint64_t now, uint64_t timeout_ns)
{
    while (c->ring_tail != c->ring_head) {
        uint16_t id = c->ring[c->ring_tail & 0xffff];
        uint64_t t = c->sent_ns[id];
        if (t == 0) { c->ring_tail++; continue; } /* answered */
        if (now - t < timeout_ns) break;
        c->sent_ns[id] = 0;
        c->outstanding--;
        n_lost++;
        c->ring_tail++;
    }
}

static int open_conn(conn_t *c, int tcp, int idx)
{
    c->tcp = tcp;
    c->fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM), 0);
    if (c->fd < 0) { perror("socket"); return -1; }
    int bufsz = 4 << 20, one = 1;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
    if (tcp) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&server, sizeof server) < 0) { perror("connect"); return -1; }
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)idx};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    c->next_id = (uint16_t)(idx * 7919);
    return 0;
}

/* a TCP connection the server closed: its queries are lost; open a new one */
static void reconnect(conn_t *c, int idx)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    for (uint32_t i = c->ring_tail; i != c->ring_head; i++) {
        uint16_t id = c->ring[i & 0xffff];
        if (c->sent_ns[id]) { c->sent_ns[id] = 0; n_lost++; }
    }
    c->ring_tail = c->ring_head = 0;
    c->outstanding = 0;
    c->wlen = c->woff = c->rlen = 0;
    n_reconnect++;
    if (open_conn(c, 1, idx) < 0) exit(1);
}

/* the next query with a free ID, its ID set; the ID is returned */
static const query_t *next_query(conn_t *c, unsigned char *dst, uint16_t *idp)
{
    const query_t *q = &Q[qpos];
    if (++qpos == nq) qpos = 0;
    uint16_t id = c->next_id;
    while (c->sent_ns[id]) id++; /* skip IDs still in flight */
    c->next_id = (uint16_t)(id + 1);
    memcpy(dst, q->wire, q->len);
    dst[0] = (unsigned char)(id >> 8);
    dst[1] = (unsigned char)id;
    *idp = id;
    return q;
}

static void mark_sent(conn_t *c, uint16_t id, uint64_t now)
{
    c->sent_ns[id] = now ? now : 1;
    c->ring[c->ring_head & 0xffff] = id;
    c->ring_head++;
    c->outstanding++;
    n_sent++;
}

/* sends up to k queries on c; returns how many went out */
static int send_some(conn_t *c, int k, uint64_t now)
{
    if (k <= 0) return 0;
    /* keep well clear of the 16-bit ID space */
    if ((uint32_t)(c->ring_head - c->ring_tail) + (uint32_t)k >= 60000) return 0;
    if (k > BATCH) k = BATCH;
    if (!c->tcp) {
        struct mmsghdr mm[BATCH];
        struct iovec iov[BATCH];
        unsigned char buf[BATCH][MAXQ];
        uint16_t ids[BATCH];
        for (int i = 0; i < k; i++) {
            const query_t *q = next_query(c, buf[i], &ids[i]);
            c->sent_ns[ids[i]] = 1; /* reserve, so the batch never repeats an ID */
            iov[i].iov_base = buf[i];
            iov[i].iov_len = q->len;
            memset(&mm[i].msg_hdr, 0, sizeof mm[i].msg_hdr);
            mm[i].msg_hdr.msg_iov = &iov[i];
            mm[i].msg_hdr.msg_iovlen = 1;
        }
        int r = sendmmsg(c->fd, mm, (unsigned)k, MSG_DONTWAIT);
        if (r < 0) r = 0; /* EAGAIN: the socket buffer is full, try later */
        for (int i = 0; i < k; i++) {
            c->sent_ns[ids[i]] = 0;
            if (i < r) mark_sent(c, ids[i], now);
        }
        return r;
    }
    /* TCP: append frames, then write what the socket takes */
    if (c->wlen - c->woff > 64 * 1024) return 0; /* the server is not reading */
    if (c->woff == c->wlen) c->woff = c->wlen = 0;
    if (c->wcap - c->wlen < (size_t)k * (MAXQ + 2)) {
        c->wcap = c->wlen + (size_t)k * (MAXQ + 2) + 65536;
        c->wbuf = realloc(c->wbuf, c->wcap);
    }
    for (int i = 0; i < k; i++) {
        uint16_t id;
        unsigned char *f = c->wbuf + c->wlen;
        const query_t *q = next_query(c, f + 2, &id);
        f[0] = (unsigned char)(q->len >> 8);
        f[1] = (unsigned char)q->len;
        c->wlen += 2u + q->len;
        mark_sent(c, id, now);
    }
    return k;
}

static void flush_tcp(conn_t *c, int idx)
{
    while (c->woff < c->wlen) {
        ssize_t w = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
        if (w > 0) { c->woff += (size_t)w; continue; }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        reconnect(c, idx);
        return;
    }
}

static void drain(conn_t *c, int idx)
{
    if (!c->tcp) {
        struct mmsghdr mm[BATCH];
        struct iovec iov[BATCH];
        static unsigned char buf[BATCH][2048];
        for (;;) {
            for (int i = 0; i < BATCH; i++) {
                iov[i].iov_base = buf[i];
                iov[i].iov_len = sizeof buf[i];
                memset(&mm[i].msg_hdr, 0, sizeof mm[i].msg_hdr);
                mm[i].msg_hdr.msg_iov = &iov[i];
                mm[i].msg_hdr.msg_iovlen = 1;
            }
            int r = recvmmsg(c->fd, mm, BATCH, MSG_DONTWAIT, NULL);
            if (r <= 0) return;
            uint64_t t = now_ns();
            for (int i = 0; i < r; i++) record_answer(c, buf[i], mm[i].msg_len, t);
            if (r < BATCH) return;
        }
    }
    for (;;) {
        ssize_t r = read(c->fd, c->rbuf + c->rlen, RBUF - c->rlen);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) { reconnect(c, idx); return; }
        if (r < 0) return;
        c->rlen += (size_t)r;
        uint64_t t = now_ns();
        size_t off = 0;
        while (c->rlen - off >= 2) {
            size_t fl = ((size_t)c->rbuf[off] << 8) | c->rbuf[off + 1];
            if (c->rlen - off - 2 < fl) break;
            record_answer(c, c->rbuf + off + 2, fl, t);
            off += 2 + fl;
        }
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
}

static uint64_t pct(double p)
{
    uint64_t total = 0;
    for (int i = 0; i < HIST_US; i++) total += hist[i];
    if (!total) return 0;
    uint64_t want = (uint64_t)(p * (double)total);
    if (want >= total) want = total - 1;
    uint64_t acc = 0;
    for (int i = 0; i < HIST_US; i++) {
        acc += hist[i];
        if (acc > want) return (uint64_t)i;
    }
    return HIST_US;
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1", *file = NULL, *mode = "udp";
    int port = 53, nconn = 16, window = 256, timeout_ms = 1000, opt;
    double seconds = 5, rate = 0;
    while ((opt = getopt(argc, argv, "s:p:d:l:m:c:q:Q:t:")) != -1) {
        switch (opt) {
        case 's': addr = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'd': file = optarg; break;
        case 'l': seconds = atof(optarg); break;
        case 'm': mode = optarg; break;
        case 'c': nconn = atoi(optarg); break;
        case 'q': window = atoi(optarg); break;
        case 'Q': rate = atof(optarg); break;
        case 't': timeout_ms = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: %s -d file [-s addr] [-p port] [-l secs] [-m udp|tcp] [-c conns] "
                            "[-q outstanding] [-Q qps] [-t timeout_ms]\n", argv[0]);
            return 2;
        }
    }
    int tcp = !strcmp(mode, "tcp");
    if (!file || (!tcp && strcmp(mode, "udp"))) { fprintf(stderr, "need -d file, -m udp|tcp\n"); return 2; }
    if (nconn < 1) nconn = 1;
    if (nconn > MAXCONN) nconn = MAXCONN;
    int per = window / nconn;
    if (per < 1) per = 1;
    if (per > 30000) per = 30000;
    load(file);
    hist = calloc(HIST_US, sizeof *hist);

    memset(&server, 0, sizeof server);
    server.sin_family = AF_INET;
    server.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, addr, &server.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", addr); return 2; }
    epfd = epoll_create1(0);
    conn_t *C = calloc((size_t)nconn, sizeof *C);
    for (int i = 0; i < nconn; i++) {
        if (open_conn(&C[i], tcp, i) < 0) return 1;
        if (tcp) C[i].rbuf = malloc(RBUF);
    }

    uint64_t tmo = (uint64_t)timeout_ms * 1000000ull;
    uint64_t t0 = now_ns(), tend = t0 + (uint64_t)(seconds * 1e9), now = t0, last_exp = t0;
    /* paced: the schedule owes floor(elapsed * rate) queries; the
     * connections take turns so each carries an equal share */
    uint64_t owed_sent = 0;
    int turn = 0;
    struct epoll_event evs[MAXCONN];
    while ((now = now_ns()) < tend) {
        /* closed loop: block up to 1 ms for answers; paced: never block, the
         * schedule must be kept */
        int n = epoll_wait(epfd, evs, MAXCONN, rate > 0 ? 0 : 1);
        for (int i = 0; i < n; i++) drain(&C[evs[i].data.u32], (int)evs[i].data.u32);
        now = now_ns();
        if (now - last_exp > 1000000ull) {
            for (int i = 0; i < nconn; i++) expire(&C[i], now, tmo);
            last_exp = now;
        }
        if (rate > 0) {
            uint64_t due = (uint64_t)((double)(now - t0) / 1e9 * rate) + 1;
            int tries = 0;
            while (owed_sent < due && tries < nconn) {
                conn_t *c = &C[turn];
                int want = (int)(due - owed_sent);
                if (want > 8) want = 8; /* small bursts keep the pacing even */
                if (c->outstanding + want > per) want = per - c->outstanding;
                int s = send_some(c, want, now);
                owed_sent += (uint64_t)s;
                if (c->tcp) flush_tcp(c, turn);
                if (s == 0) tries++;
                turn = (turn + 1) % nconn;
            }
            if (owed_sent < due) { /* every slot busy: the server is too slow for this rate */
                n_late_sched += due - owed_sent;
                owed_sent = due;
            }
        } else {
            for (int i = 0; i < nconn; i++) {
                conn_t *c = &C[i];
                while (c->outstanding < per) {
                    if (send_some(c, per - c->outstanding, now) == 0) break;
                }
                if (c->tcp) flush_tcp(c, i);
            }
        }
    }
    double elapsed = (double)(now - t0) / 1e9;
    /* stop sending; wait for what is still outstanding, up to the timeout
     * but at most 250 ms: on loopback a missing answer is a dropped packet,
     * not a slow one, and a long wait would stretch the run's wall time */
    uint64_t tstop = now + (tmo < 250000000ull ? tmo : 250000000ull);
    for (;;) {
        int out = 0;
        for (int i = 0; i < nconn; i++) {
            if (C[i].tcp) flush_tcp(&C[i], i);
            out += C[i].outstanding;
        }
        if (!out || (now = now_ns()) >= tstop) break;
        int n = epoll_wait(epfd, evs, MAXCONN, 1);
        for (int i = 0; i < n; i++) drain(&C[evs[i].data.u32], (int)evs[i].data.u32);
    }
    for (int i = 0; i < nconn; i++) { n_lost += (uint64_t)C[i].outstanding; C[i].outstanding = 0; }

    static const char *rn[16] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                 "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11",
                                 "RCODE12", "RCODE13", "RCODE14", "RCODE15"};
    printf("{\"mode\":\"%s\",\"paced_qps\":%.0f,\"connections\":%d,\"outstanding_per_connection\":%d,",
           mode, rate, nconn, per);
    printf("\"queries_in_file\":%zu,\"sent\":%llu,\"completed\":%llu,\"lost\":%llu,\"unexpected\":%llu,",
           nq, (unsigned long long)n_sent, (unsigned long long)n_recv, (unsigned long long)n_lost,
           (unsigned long long)n_unexpected);
    printf("\"truncated\":%llu,\"behind_schedule\":%llu,\"reconnects\":%llu,\"run_s\":%.6f,\"qps\":%.1f,",
           (unsigned long long)n_tc, (unsigned long long)n_late_sched, (unsigned long long)n_reconnect,
           elapsed, (double)n_recv / elapsed);
    printf("\"rcodes\":{");
    int first = 1;
    for (int i = 0; i < 16; i++)
        if (rcodes[i]) {
            printf("%s\"%s\":%llu", first ? "" : ",", rn[i], (unsigned long long)rcodes[i]);
            first = 0;
        }
    printf("},\"latency_us\":{\"min\":%.1f,\"avg\":%.1f,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,"
           "\"p999\":%llu,\"max\":%.1f}}\n",
           n_recv ? (double)lat_min_ns / 1e3 : 0.0, n_recv ? lat_sum_us / (double)n_recv : 0.0,
           (unsigned long long)pct(0.50), (unsigned long long)pct(0.90), (unsigned long long)pct(0.99),
           (unsigned long long)pct(0.999), (double)lat_max_ns / 1e3);
    return 0;
}
