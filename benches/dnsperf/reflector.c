/*
 * reflector.c - the floor any UDP responder on this machine stands on.
 *
 * Answers each UDP query with its own header and question, QR and AA set,
 * NOERROR, no records, and does nothing else: no lookup, no EDNS. What it
 * costs per query is the kernel's loopback path plus one recvmmsg/sendmmsg
 * batch (64) per wake-up, so a real server's microseconds per query divided
 * by the reflector's says how much of its cost is its own.
 *
 *   cc -O2 -o reflector reflector.c
 *   ./reflector -p PORT [-a 127.0.0.1]
 *
 * Runs until SIGTERM/SIGINT. Not a DNS server: never point a resolver at it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64

static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

/* turns a query into its reply in place; 0 when it is not a one-question query */
static size_t reply(unsigned char *p, size_t n)
{
    if (n < 17 || (p[2] & 0x80) || p[4] != 0 || p[5] != 1) return 0;
    size_t off = 12;
    while (off < n && p[off] != 0) {
        if (p[off] > 63) return 0; /* a question is never compressed */
        off += 1u + p[off];
    }
    if (off + 5 > n) return 0;
    off += 5; /* root label, QTYPE, QCLASS */
    p[2] = (unsigned char)(0x84 | (p[2] & 0x79)); /* QR, AA; opcode and RD kept */
    p[3] = 0;
    memset(p + 6, 0, 6); /* no answer, authority or additional records */
    return off;
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    int port = 0, opt;
    while ((opt = getopt(argc, argv, "a:p:")) != -1) {
        if (opt == 'a') addr = optarg;
        else if (opt == 'p') port = atoi(optarg);
        else { fprintf(stderr, "usage: %s -p port [-a addr]\n", argv[0]); return 2; }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: a signal ends the blocking recvmmsg */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    int bufsz = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
    if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        perror("bind");
        return 1;
    }

    static unsigned char buf[BATCH][512];
    struct mmsghdr in[BATCH], out[BATCH];
    struct iovec iov[BATCH], oiov[BATCH];
    struct sockaddr_in peers[BATCH];
    while (!stop) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){buf[i], sizeof buf[i]};
            memset(&in[i].msg_hdr, 0, sizeof in[i].msg_hdr);
            in[i].msg_hdr.msg_iov = &iov[i];
            in[i].msg_hdr.msg_iovlen = 1;
            in[i].msg_hdr.msg_name = &peers[i];
            in[i].msg_hdr.msg_namelen = sizeof peers[i];
        }
        /* block for the first datagram, then take what else is queued */
        int r = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL);
        if (r <= 0) continue;
        int k = 0;
        for (int i = 0; i < r; i++) {
            size_t len = reply(buf[i], in[i].msg_len);
            if (!len) continue;
            oiov[k] = (struct iovec){buf[i], len};
            memset(&out[k].msg_hdr, 0, sizeof out[k].msg_hdr);
            out[k].msg_hdr.msg_iov = &oiov[k];
            out[k].msg_hdr.msg_iovlen = 1;
            out[k].msg_hdr.msg_name = &peers[i];
            out[k].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
            k++;
        }
        for (int done = 0; done < k;) {
            int s = sendmmsg(fd, out + done, (unsigned)(k - done), 0);
            if (s <= 0) break;
            done += s;
        }
    }
    return 0;
}
