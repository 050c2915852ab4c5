#define _GNU_SOURCE
#include "ttnet.h"
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <spawn.h>
#include <malloc.h>
#include <signal.h>

_Static_assert(sizeof(struct sockaddr_storage) == 128, "tt_datagram_info.address holds a sockaddr_storage");

int tt_receive_datagrams(int fd, unsigned char *buffer, int slot_size, int count, tt_datagram_info *info) {
    struct mmsghdr messages[128];
    struct iovec vectors[128];
    if (count > 128) count = 128;
    if (count <= 0) return 0;
    memset(messages, 0, sizeof(struct mmsghdr) * (size_t)count);
    for (int i = 0; i < count; i++) {
        vectors[i].iov_base = buffer + (size_t)i * (size_t)slot_size;
        vectors[i].iov_len = (size_t)slot_size;
        messages[i].msg_hdr.msg_iov = &vectors[i];
        messages[i].msg_hdr.msg_iovlen = 1;
        messages[i].msg_hdr.msg_name = &info[i].address;
        messages[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    }
    int received;
    do {
        received = recvmmsg(fd, messages, (unsigned int)count, MSG_DONTWAIT, NULL);
    } while (received < 0 && errno == EINTR);
    if (received < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    for (int i = 0; i < received; i++) {
        info[i].length = (int)messages[i].msg_len;
        info[i].truncated = (messages[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    }
    return received;
}

long tt_pread_if_cached(int fd, void *buffer, unsigned long count, long long offset) {
    struct iovec vector = { .iov_base = buffer, .iov_len = count };
    return preadv2(fd, &vector, 1, offset, RWF_NOWAIT);
}

int tt_open_direct_write(const char *path) {
    return open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
}

int tt_enable_icmp_errors(int fd, int ipv6) {
    int on = 1;
    if (ipv6) return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
    return setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
}

int tt_read_icmp_error(int fd, tt_datagram_info *info, int *error) {
    char control[512];
    unsigned char byte;
    struct sockaddr_storage destination;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    struct msghdr message = {
        .msg_name = &destination, .msg_namelen = sizeof destination,
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control, .msg_controllen = sizeof control,
    };
    memset(&destination, 0, sizeof destination);
    if (recvmsg(fd, &message, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
    *error = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c != NULL; c = CMSG_NXTHDR(&message, c)) {
        if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
            (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
            const struct sock_extended_err *report = (const struct sock_extended_err *)CMSG_DATA(c);
            if (report->ee_origin == SO_EE_ORIGIN_ICMP || report->ee_origin == SO_EE_ORIGIN_ICMP6) *error = (int)report->ee_errno;
        }
    }
    memcpy(info->address, &destination, sizeof info->address);
    info->length = 0;
    info->truncated = 0;
    return 1;
}

void tt_name_this_thread(const char *name) {
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

extern char **environ;

int tt_spawn(const char *path, char *const argv[], const char *directory,
             int stdin_fd, int stdout_fd, int stderr_fd, int *pid) {
    posix_spawn_file_actions_t actions;
    int result = posix_spawn_file_actions_init(&actions);
    if (result != 0) return result;
    const int sources[3] = { stdin_fd, stdout_fd, stderr_fd };
    for (int target = 0; target < 3 && result == 0; target++) {
        if (sources[target] >= 0) result = posix_spawn_file_actions_adddup2(&actions, sources[target], target);
    }
    if (result == 0 && directory != NULL) result = posix_spawn_file_actions_addchdir_np(&actions, directory);
    // The child starts with no signal blocked and every signal at its default, whatever this
    // process (or the test runner) blocks or ignores: SIGTERM must stop it.
    posix_spawnattr_t attributes;
    if (result == 0) result = posix_spawnattr_init(&attributes);
    if (result != 0) { posix_spawn_file_actions_destroy(&actions); return result; }
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t child = 0;
    result = posix_spawn(&child, path, &actions, &attributes, argv, environ);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    if (result == 0) *pid = (int)child;
    return result;
}

int tt_set_mmap_threshold(int bytes) {
    return mallopt(M_MMAP_THRESHOLD, bytes);
}

int tt_accept_nonblocking(int fd, void *address, unsigned int *length) {
    socklen_t size = *length;
    int connection = accept4(fd, (struct sockaddr *)address, &size, SOCK_NONBLOCK | SOCK_CLOEXEC);
    *length = size;
    return connection;
}
