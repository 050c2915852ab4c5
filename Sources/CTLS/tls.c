// TLS through the system's libssl, resolved with dlopen at the first https:// request.
// Only the handful of OpenSSL 1.1/3 entry points below are used; they have kept these
// signatures since OpenSSL 1.1.0.
#define _GNU_SOURCE
#include "CTLS.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void SSL_CTX;
typedef void SSL;
typedef void SSL_METHOD;
typedef void X509_VERIFY_PARAM;

static struct {
    int loaded;
    char error[256];
    int (*init_ssl)(unsigned long long, const void *);
    const SSL_METHOD *(*client_method)(void);
    SSL_CTX *(*ctx_new)(const SSL_METHOD *);
    void (*ctx_free)(SSL_CTX *);
    int (*ctx_default_paths)(SSL_CTX *);
    int (*ctx_load_locations)(SSL_CTX *, const char *, const char *);
    void (*ctx_set_verify)(SSL_CTX *, int, void *);
    SSL *(*ssl_new)(SSL_CTX *);
    void (*ssl_free)(SSL *);
    int (*set_fd)(SSL *, int);
    long (*ctrl)(SSL *, int, long, void *);
    int (*set1_host)(SSL *, const char *);
    X509_VERIFY_PARAM *(*get0_param)(SSL *);
    int (*param_set1_ip_asc)(X509_VERIFY_PARAM *, const char *);
    int (*ssl_connect)(SSL *);
    int (*ssl_read)(SSL *, void *, int);
    int (*ssl_write)(SSL *, const void *, int);
    int (*get_error)(const SSL *, int);
    int (*shutdown)(SSL *);
    long (*get_verify_result)(const SSL *);
    const char *(*verify_error_string)(long);
    unsigned long (*err_get)(void);
    void (*err_string)(unsigned long, char *, size_t);
    void (*err_clear)(void);
} lib;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;

#define RESOLVE(field, name) do { *(void **)(&lib.field) = dlsym(handle, name); \
    if (!lib.field) { snprintf(lib.error, sizeof lib.error, "libssl lacks %s", name); return; } } while (0)

static void load(void) {
    const char *names[] = { "libssl.so.3", "libssl.so.1.1", "libssl.so" };
    void *handle = NULL;
    for (size_t i = 0; i < sizeof names / sizeof *names && !handle; i++) handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(lib.error, sizeof lib.error, "HTTPS needs the system's OpenSSL (libssl), which could not be loaded: %s", dlerror());
        return;
    }
    RESOLVE(init_ssl, "OPENSSL_init_ssl");
    RESOLVE(client_method, "TLS_client_method");
    RESOLVE(ctx_new, "SSL_CTX_new");
    RESOLVE(ctx_free, "SSL_CTX_free");
    RESOLVE(ctx_default_paths, "SSL_CTX_set_default_verify_paths");
    RESOLVE(ctx_load_locations, "SSL_CTX_load_verify_locations");
    RESOLVE(ctx_set_verify, "SSL_CTX_set_verify");
    RESOLVE(ssl_new, "SSL_new");
    RESOLVE(ssl_free, "SSL_free");
    RESOLVE(set_fd, "SSL_set_fd");
    RESOLVE(ctrl, "SSL_ctrl");
    RESOLVE(set1_host, "SSL_set1_host");
    RESOLVE(get0_param, "SSL_get0_param");
    RESOLVE(param_set1_ip_asc, "X509_VERIFY_PARAM_set1_ip_asc");
    RESOLVE(ssl_connect, "SSL_connect");
    RESOLVE(ssl_read, "SSL_read");
    RESOLVE(ssl_write, "SSL_write");
    RESOLVE(get_error, "SSL_get_error");
    RESOLVE(shutdown, "SSL_shutdown");
    RESOLVE(get_verify_result, "SSL_get_verify_result");
    RESOLVE(verify_error_string, "X509_verify_cert_error_string");
    RESOLVE(err_get, "ERR_get_error");
    RESOLVE(err_string, "ERR_error_string_n");
    RESOLVE(err_clear, "ERR_clear_error");
    lib.init_ssl(0, NULL);
    lib.loaded = 1;
}

struct tt_tls { SSL_CTX *ctx; SSL *ssl; int fd; };

enum { SSL_ERROR_SSL_ = 1, SSL_ERROR_WANT_READ_ = 2, SSL_ERROR_WANT_WRITE_ = 3, SSL_ERROR_SYSCALL_ = 5, SSL_ERROR_ZERO_RETURN_ = 6 };
enum { SSL_VERIFY_PEER_ = 1, SSL_CTRL_SET_TLSEXT_HOSTNAME_ = 55, TLSEXT_NAMETYPE_host_name_ = 0, X509_V_OK_ = 0 };

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/// Waits for what OpenSSL asked for; 0 when ready, TT_TLS_TIMEOUT otherwise.
static int wait_for(int fd, int ssl_error, long long deadline) {
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) return TT_TLS_TIMEOUT;
        struct pollfd p = { .fd = fd, .events = ssl_error == SSL_ERROR_WANT_WRITE_ ? POLLOUT : POLLIN };
        int r = poll(&p, 1, (int)(left > 1000000 ? 1000000 : left));
        if (r > 0) return 0;
        if (r < 0 && errno != EINTR) return TT_TLS_PROTOCOL;
    }
}

static void describe_code(const char *what, int ssl_error, unsigned long code, char *message, size_t size) {
    char detail[200] = "";
    if (code) lib.err_string(code, detail, sizeof detail);
    else if (ssl_error == SSL_ERROR_SYSCALL_) snprintf(detail, sizeof detail, "%s", errno ? strerror(errno) : "connection closed");
    else snprintf(detail, sizeof detail, "TLS error %d", ssl_error);
    snprintf(message, size, "%s: %s", what, detail);
    lib.err_clear();
}

static void describe(const char *what, int ssl_error, char *message, size_t size) {
    describe_code(what, ssl_error, lib.err_get(), message, size);
}

tt_tls *tt_tls_connect(int fd, const char *host, const char *ca_file, int timeout_ms,
                       int *failure, char *message, size_t message_size) {
    pthread_once(&load_once, load);
    if (!lib.loaded) { *failure = TT_TLS_UNAVAILABLE; snprintf(message, message_size, "%s", lib.error); return NULL; }
    long long deadline = now_ms() + timeout_ms;
    tt_tls *tls = calloc(1, sizeof *tls);
    if (!tls) { *failure = TT_TLS_PROTOCOL; snprintf(message, message_size, "out of memory"); return NULL; }
    tls->fd = fd;
    tls->ctx = lib.ctx_new(lib.client_method());
    if (!tls->ctx) { *failure = TT_TLS_PROTOCOL; describe("TLS set-up", 0, message, message_size); free(tls); return NULL; }
    int trusted = ca_file && *ca_file ? lib.ctx_load_locations(tls->ctx, ca_file, NULL) : lib.ctx_default_paths(tls->ctx);
    if (trusted != 1) {
        *failure = TT_TLS_CERTIFICATE;
        char what[300];
        snprintf(what, sizeof what, "cannot load trusted certificates%s%s", ca_file ? " from " : "", ca_file ? ca_file : "");
        describe(what, 0, message, message_size);
        tt_tls_free(tls);
        return NULL;
    }
    lib.ctx_set_verify(tls->ctx, SSL_VERIFY_PEER_, NULL);
    tls->ssl = lib.ssl_new(tls->ctx);
    lib.set_fd(tls->ssl, fd);
    unsigned char address[16];
    if (inet_pton(AF_INET, host, address) == 1 || inet_pton(AF_INET6, host, address) == 1) {
        lib.param_set1_ip_asc(lib.get0_param(tls->ssl), host);
    } else {
        lib.ctrl(tls->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME_, TLSEXT_NAMETYPE_host_name_, (void *)host);
        lib.set1_host(tls->ssl, host);
    }
    for (;;) {
        int r = lib.ssl_connect(tls->ssl);
        if (r == 1) break;
        int e = lib.get_error(tls->ssl, r);
        if (e == SSL_ERROR_WANT_READ_ || e == SSL_ERROR_WANT_WRITE_) {
            int w = wait_for(fd, e, deadline);
            if (w == 0) continue;
            *failure = w;
            snprintf(message, message_size, "TLS handshake: no answer in time");
            tt_tls_free(tls);
            return NULL;
        }
        long verify = lib.get_verify_result(tls->ssl);
        if (verify != X509_V_OK_) {
            *failure = TT_TLS_CERTIFICATE;
            snprintf(message, message_size, "certificate not trusted: %s", lib.verify_error_string(verify));
            lib.err_clear();
        } else {
            *failure = TT_TLS_PROTOCOL;
            describe("TLS handshake", e, message, message_size);
        }
        tt_tls_free(tls);
        return NULL;
    }
    *failure = TT_TLS_OK;
    return tls;
}

int tt_tls_write(tt_tls *tls, const void *bytes, size_t length, int timeout_ms, char *message, size_t message_size) {
    long long deadline = now_ms() + timeout_ms;
    size_t done = 0;
    while (done < length) {
        size_t chunk = length - done > (1 << 30) ? (1 << 30) : length - done;
        int r = lib.ssl_write(tls->ssl, (const char *)bytes + done, (int)chunk);
        if (r > 0) { done += (size_t)r; continue; }
        int e = lib.get_error(tls->ssl, r);
        if (e == SSL_ERROR_WANT_READ_ || e == SSL_ERROR_WANT_WRITE_) {
            int w = wait_for(tls->fd, e, deadline);
            if (w == 0) continue;
            snprintf(message, message_size, "TLS: sending timed out");
            return w;
        }
        describe("TLS send", e, message, message_size);
        return TT_TLS_PROTOCOL;
    }
    return TT_TLS_OK;
}

long tt_tls_read(tt_tls *tls, void *buffer, size_t capacity, int timeout_ms, char *message, size_t message_size) {
    long long deadline = now_ms() + timeout_ms;
    int limit = capacity > (1 << 30) ? (1 << 30) : (int)capacity;
    for (;;) {
        int r = lib.ssl_read(tls->ssl, buffer, limit);
        if (r > 0) return r;
        int e = lib.get_error(tls->ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN_) return 0;
        if (e == SSL_ERROR_WANT_READ_ || e == SSL_ERROR_WANT_WRITE_) {
            int w = wait_for(tls->fd, e, deadline);
            if (w == 0) continue;
            snprintf(message, message_size, "TLS: waiting for data timed out");
            return -w;
        }
        // Many HTTP servers end a Connection: close response without close_notify: an end of
        // stream there is the end of the body, and the HTTP parser judges whether it was complete.
        unsigned long code = lib.err_get();
        if (e == SSL_ERROR_SYSCALL_ && code == 0) return 0;
        describe_code("TLS receive", e, code, message, message_size);
        return -TT_TLS_PROTOCOL;
    }
}

void tt_tls_free(tt_tls *tls) {
    if (!tls) return;
    if (tls->ssl) { lib.shutdown(tls->ssl); lib.ssl_free(tls->ssl); }
    if (tls->ctx) lib.ctx_free(tls->ctx);
    lib.err_clear();
    free(tls);
}
