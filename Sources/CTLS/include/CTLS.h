/// TLS client connections over an already-connected socket, with the system's OpenSSL loaded
/// at the first use (dlopen), so `tt` links no TLS library and pays nothing at start-up for it.
#ifndef CTLS_H
#define CTLS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Why a TLS call failed; the message buffer says the rest.
enum tt_tls_failure {
    TT_TLS_OK = 0,
    TT_TLS_UNAVAILABLE = 1,   ///< libssl could not be loaded
    TT_TLS_TIMEOUT = 2,       ///< the deadline passed
    TT_TLS_CERTIFICATE = 3,   ///< the peer's certificate was not trusted for this host
    TT_TLS_PROTOCOL = 4,      ///< any other TLS or socket failure
    TT_TLS_CLOSED = 5         ///< the peer closed the connection uncleanly
};

typedef struct tt_tls tt_tls;

/// Runs a TLS client handshake on the connected non-blocking socket `fd`, verifying the peer's
/// certificate for `host` (a DNS name or an IP literal) against `ca_file` when given, else the
/// system's trust store (`SSL_CERT_FILE` and `SSL_CERT_DIR` are honoured). Returns NULL on
/// failure with `*failure` and a message in `message`. The caller keeps owning `fd`.
tt_tls *tt_tls_connect(int fd, const char *host, const char *ca_file, int timeout_ms,
                       int *failure, char *message, size_t message_size);

/// Writes all `length` bytes; 0 on success, else a failure code with `message` filled.
int tt_tls_write(tt_tls *tls, const void *bytes, size_t length, int timeout_ms, char *message, size_t message_size);

/// Reads up to `capacity` bytes, waiting up to `timeout_ms` for the first. Returns the count,
/// 0 at a clean end of stream, or minus a failure code with `message` filled.
long tt_tls_read(tt_tls *tls, void *buffer, size_t capacity, int timeout_ms, char *message, size_t message_size);

/// Sends close_notify (best effort) and frees the connection; does not close the socket.
void tt_tls_free(tt_tls *tls);

#ifdef __cplusplus
}
#endif
#endif
