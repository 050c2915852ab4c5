/// Batches of UDP datagrams in and out with one system call each (recvmmsg/sendmmsg), for
/// servers that answer many small requests (our UDP tracker). Swift's Glibc module does not
/// expose `struct mmsghdr`, so the batch lives here behind an opaque handle.
///
/// Each slot holds one received datagram, its sender, and room for one reply to that sender.
#ifndef CTTDATAGRAMS_H
#define CTTDATAGRAMS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_datagrams tt_datagrams;

/// `capacity` slots of `datagram_size` bytes in and `reply_size` bytes out; NULL when out of memory.
tt_datagrams *tt_datagrams_create(int capacity, int datagram_size, int reply_size);
void tt_datagrams_destroy(tt_datagrams *batch);

/// Takes up to capacity datagrams waiting on `fd`: how many (0 when none came), or -errno.
/// With `wait` (for a blocking socket) it first waits for one, as long as the socket's
/// SO_RCVTIMEO allows, then takes those waiting; without, it never blocks.
int tt_datagrams_receive(tt_datagrams *batch, int fd, int wait);

/// Slot `index`'s datagram (truncated to datagram_size) and its length.
const uint8_t *tt_datagrams_bytes(const tt_datagrams *batch, int index, int *length);

/// Slot `index`'s sender: the IP's bytes in network order (IPv4 in the first 4 of `ip`, the
/// rest zero) and the port in host order. Returns 4 or 16 (the IP's length), 0 for another family.
int tt_datagrams_sender(const tt_datagrams *batch, int index, uint8_t ip[16], uint16_t *port);

/// Room for slot `index`'s reply (reply_size bytes); a reply is sent only when given a length.
uint8_t *tt_datagrams_reply(tt_datagrams *batch, int index);
void tt_datagrams_set_reply_length(tt_datagrams *batch, int index, int length);

/// Sends the replies of slots 0..<count that have a length, each to its slot's sender, then
/// clears the lengths. Returns how many the kernel took (one it refuses is skipped, not retried).
int tt_datagrams_send_replies(tt_datagrams *batch, int fd, int count);

#ifdef __cplusplus
}
#endif

#endif
