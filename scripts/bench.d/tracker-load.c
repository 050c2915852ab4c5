// Announce load for scripts/bench-tracker: THREADS threads for SECONDS, counting answered
// announces. Written in C so the generator is never the bottleneck (`reflect` mode measures its
// own ceiling against a server that answers without doing any work).
//
//   tracker-load udp|http PORT SECONDS THREADS HASHFILE      prints answered announces per second
//   tracker-load reflect PORT SECONDS                        a UDP/HTTP server doing nothing but answering
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { WINDOW = 16, MAX_HASHES = 1024 };
static int port, nhashes;
static double seconds;
static unsigned char hashes[MAX_HASHES][20];

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static struct sockaddr_in target(void) {
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    return a;
}

static void put32(unsigned char *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static void put64(unsigned char *p, uint64_t v) { put32(p, v >> 32); put32(p + 4, (uint32_t)v); }

static void *udp_worker(void *arg) {
    long worker = (long)arg, done = 0;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = target();
    connect(s, (struct sockaddr *)&a, sizeof a);
    struct timeval tv = { 1, 0 };
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    unsigned char req[98], reply[2048];
    put64(req, 0x41727101980ULL); put32(req + 8, 0); put32(req + 12, 1);
    send(s, req, 16, 0);
    if (recv(s, reply, sizeof reply, 0) < 16) return (void *)0;
    uint64_t cid; memcpy(&cid, reply + 8, 8);
    uint32_t tx = (uint32_t)worker << 24;
    double end = now() + seconds;
    while (now() < end) {
        for (int i = 0; i < WINDOW; i++) {
            tx++;
            memcpy(req, &cid, 8);
            put32(req + 8, 1); put32(req + 12, tx);
            memcpy(req + 16, hashes[tx % nhashes], 20);
            memcpy(req + 36, "-BN0001-", 8); put32(req + 44, (uint32_t)worker); put64(req + 48, tx);
            put64(req + 56, 0); put64(req + 64, 1); put64(req + 72, 0);
            put32(req + 80, 0); put32(req + 84, 0); put32(req + 88, tx); put32(req + 92, 50);
            req[96] = (1024 + tx % 50000) >> 8; req[97] = (1024 + tx % 50000) & 0xff;
            send(s, req, sizeof req, 0);
        }
        for (int i = 0; i < WINDOW; i++) {
            ssize_t n = recv(s, reply, sizeof reply, 0);
            if (n < 0) break;
            if (n >= 20 && reply[0] == 0 && reply[1] == 0 && reply[2] == 0 && reply[3] == 1) done++;
        }
    }
    close(s);
    return (void *)done;
}

static void *http_worker(void *arg) {
    long worker = (long)arg, done = 0;
    char request[1024], reply[65536];
    struct sockaddr_in a = target();
    double end = now() + seconds;
    for (uint64_t n = 1; now() < end; n++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) { close(s); continue; }
        char hash[61] = "", pid[61] = "";
        unsigned char id[20];
        memcpy(id, "-BN0001-", 8); put32(id + 8, (uint32_t)worker); put64(id + 12, n);
        for (int i = 0; i < 20; i++) {
            sprintf(hash + 3 * i, "%%%02X", hashes[n % nhashes][i]);
            sprintf(pid + 3 * i, "%%%02X", id[i]);
        }
        int len = snprintf(request, sizeof request,
            "GET /announce?info_hash=%s&peer_id=%s&port=%d&uploaded=0&downloaded=0&left=1&compact=1&numwant=50 HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\nConnection: close\r\n\r\n", hash, pid, (int)(1024 + n % 50000));
        send(s, request, len, MSG_NOSIGNAL);
        size_t got = 0;
        for (;;) {
            ssize_t r = recv(s, reply + got, sizeof reply - 1 - got, 0);
            if (r <= 0) break;
            got += r;
            if (got == sizeof reply - 1) break;
        }
        reply[got] = 0;
        char *eol = strstr(reply, "\r\n");
        if (eol && memmem(reply, eol - reply, " 200 ", 5) && memmem(reply, got, "5:peers", 7)) done++;
        close(s);
    }
    return (void *)done;
}

// A server that answers every UDP connect/announce and HTTP GET at once, for the generator's ceiling.
static void *reflect_http(void *arg) {
    int l = (int)(long)arg;
    const char *body = "HTTP/1.1 200 OK\r\nContent-Length: 30\r\nConnection: close\r\n\r\nd8:intervali60e5:peers0:e\n\n\n\n";
    char buffer[4096];
    for (;;) {
        int c = accept(l, NULL, NULL);
        if (c < 0) continue;
        ssize_t n = recv(c, buffer, sizeof buffer, 0);
        if (n > 0) send(c, body, strlen(body), MSG_NOSIGNAL);
        close(c);
    }
    return NULL;
}

static int reflect(void) {
    int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = target();
    setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(u, (struct sockaddr *)&a, sizeof a) || bind(t, (struct sockaddr *)&a, sizeof a) || listen(t, 128)) { perror("bind"); return 1; }
    pthread_t th;
    pthread_create(&th, NULL, reflect_http, (void *)(long)t);
    unsigned char in[2048], out[20];
    struct sockaddr_in from; socklen_t fl;
    double end = now() + seconds;
    while (now() < end) {
        fl = sizeof from;
        ssize_t n = recvfrom(u, in, sizeof in, 0, (struct sockaddr *)&from, &fl);
        if (n < 16) continue;
        memcpy(out, in + 8, 8);              // action and transaction id echoed
        memset(out + 8, 0, 12);
        out[11] = 60;
        if (in[11] == 0) { memcpy(out + 8, in, 8); sendto(u, out, 16, 0, (struct sockaddr *)&from, fl); }
        else sendto(u, out, 20, 0, (struct sockaddr *)&from, fl);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && !strcmp(argv[1], "reflect")) { port = atoi(argv[2]); seconds = atof(argv[3]); return reflect(); }
    if (argc != 6) { fprintf(stderr, "usage: tracker-load udp|http PORT SECONDS THREADS HASHFILE\n"); return 64; }
    port = atoi(argv[2]); seconds = atof(argv[3]);
    int threads = atoi(argv[4]);
    FILE *f = fopen(argv[5], "r");
    if (!f) { perror(argv[5]); return 66; }
    char line[128];
    while (nhashes < MAX_HASHES && fgets(line, sizeof line, f))
        if (strlen(line) >= 40) { for (int i = 0; i < 20; i++) sscanf(line + 2 * i, "%2hhx", &hashes[nhashes][i]); nhashes++; }
    fclose(f);
    if (!nhashes) { fprintf(stderr, "no info hashes in %s\n", argv[5]); return 65; }
    pthread_t th[64];
    int udp = !strcmp(argv[1], "udp");
    if (threads < 1 || threads > 64) threads = 2;
    for (long i = 0; i < threads; i++) pthread_create(&th[i], NULL, udp ? udp_worker : http_worker, (void *)i);
    long total = 0;
    for (int i = 0; i < threads; i++) { void *r; pthread_join(th[i], &r); total += (long)r; }
    printf("%ld\n", (long)(total / seconds));
    return 0;
}
