#define _GNU_SOURCE
#include "ttdatagrams.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct tt_datagrams {
    int capacity, datagram_size, reply_size;
    uint8_t *in, *out;
    int *reply_lengths;
    struct sockaddr_storage *senders;
    struct iovec *in_vectors, *out_vectors;
    struct mmsghdr *in_headers, *out_headers;
};

tt_datagrams *tt_datagrams_create(int capacity, int datagram_size, int reply_size) {
    tt_datagrams *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->capacity = capacity;
    b->datagram_size = datagram_size;
    b->reply_size = reply_size;
    b->in = malloc((size_t)capacity * datagram_size);
    b->out = malloc((size_t)capacity * reply_size);
    b->reply_lengths = calloc(capacity, sizeof *b->reply_lengths);
    b->senders = calloc(capacity, sizeof *b->senders);
    b->in_vectors = calloc(capacity, sizeof *b->in_vectors);
    b->out_vectors = calloc(capacity, sizeof *b->out_vectors);
    b->in_headers = calloc(capacity, sizeof *b->in_headers);
    b->out_headers = calloc(capacity, sizeof *b->out_headers);
    if (!b->in || !b->out || !b->reply_lengths || !b->senders || !b->in_vectors || !b->out_vectors || !b->in_headers ||
        !b->out_headers) {
        tt_datagrams_destroy(b);
        return NULL;
    }
    for (int i = 0; i < capacity; i++) {
        b->in_vectors[i].iov_base = b->in + (size_t)i * datagram_size;
        b->in_vectors[i].iov_len = datagram_size;
    }
    return b;
}

void tt_datagrams_destroy(tt_datagrams *b) {
    if (!b) return;
    free(b->in); free(b->out); free(b->reply_lengths); free(b->senders);
    free(b->in_vectors); free(b->out_vectors); free(b->in_headers); free(b->out_headers);
    free(b);
}

int tt_datagrams_receive(tt_datagrams *b, int fd, int wait) {
    for (int i = 0; i < b->capacity; i++) {
        struct msghdr *h = &b->in_headers[i].msg_hdr;
        memset(h, 0, sizeof *h);
        h->msg_name = &b->senders[i];
        h->msg_namelen = sizeof b->senders[i];
        h->msg_iov = &b->in_vectors[i];
        h->msg_iovlen = 1;
        b->in_headers[i].msg_len = 0;
    }
    for (;;) {
        int n = recvmmsg(fd, b->in_headers, b->capacity, wait ? MSG_WAITFORONE : MSG_DONTWAIT, NULL);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return -errno;
    }
}

const uint8_t *tt_datagrams_bytes(const tt_datagrams *b, int index, int *length) {
    *length = (int)b->in_headers[index].msg_len;
    return b->in + (size_t)index * b->datagram_size;
}

int tt_datagrams_sender(const tt_datagrams *b, int index, uint8_t ip[16], uint16_t *port) {
    const struct sockaddr_storage *s = &b->senders[index];
    memset(ip, 0, 16);
    if (s->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)s;
        memcpy(ip, &a->sin_addr, 4);
        *port = ntohs(a->sin_port);
        return 4;
    }
    if (s->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)s;
        memcpy(ip, &a->sin6_addr, 16);
        *port = ntohs(a->sin6_port);
        return 16;
    }
    *port = 0;
    return 0;
}

uint8_t *tt_datagrams_reply(tt_datagrams *b, int index) { return b->out + (size_t)index * b->reply_size; }

void tt_datagrams_set_reply_length(tt_datagrams *b, int index, int length) {
    b->reply_lengths[index] = length < 0 ? 0 : (length > b->reply_size ? b->reply_size : length);
}

int tt_datagrams_send_replies(tt_datagrams *b, int fd, int count) {
    int n = 0;
    if (count > b->capacity) count = b->capacity;
    for (int i = 0; i < count; i++) {
        if (b->reply_lengths[i] <= 0) continue;
        b->out_vectors[n].iov_base = b->out + (size_t)i * b->reply_size;
        b->out_vectors[n].iov_len = b->reply_lengths[i];
        struct msghdr *h = &b->out_headers[n].msg_hdr;
        memset(h, 0, sizeof *h);
        h->msg_name = &b->senders[i];
        h->msg_namelen = b->in_headers[i].msg_hdr.msg_namelen;
        h->msg_iov = &b->out_vectors[n];
        h->msg_iovlen = 1;
        b->reply_lengths[i] = 0;
        n++;
    }
    int sent = 0, handed = 0;
    while (sent < n) {
        int r = sendmmsg(fd, b->out_headers + sent, n - sent, MSG_NOSIGNAL);
        if (r > 0) { sent += r; handed += r; continue; }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            // A full send buffer: wait a little for room, as a blocking send would.
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            if (poll(&p, 1, 1000) > 0) continue;
        }
        // The first one left could not go (no room after a second, an unreachable sender): skip
        // it (UDP clients retry) rather than stall every other client's reply.
        sent++;
    }
    return handed;
}
