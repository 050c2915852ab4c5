#ifndef TTNET_H
#define TTNET_H


/// Where one datagram of a batch came from and how long it is.
typedef struct {
    /// Bytes in its slot; the datagram was longer than the slot when `truncated` is 1.
    int length;
    int truncated;
    /// A struct sockaddr_storage (kept opaque so this header pulls no system header into Swift).
    _Alignas(8) unsigned char address[128];
} tt_datagram_info;

/// Reads up to `count` (at most 128) waiting datagrams with one recvmmsg(2), without blocking: datagram i
/// goes to `buffer + i * slot_size`. Returns how many were read, 0 when none waits, -1 with errno set.
int tt_receive_datagrams(int fd, unsigned char *buffer, int slot_size, int count, tt_datagram_info *info);

/// pread(2) that never waits for the disk: preadv2 with RWF_NOWAIT. Returns the bytes read (fewer than
/// `count`, or -1 with errno EAGAIN, when some are not in the page cache), -1 with errno on errors.
long tt_pread_if_cached(int fd, void *buffer, unsigned long count, long long offset);

/// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC (Swift's Glibc module does not declare accept4): the new
/// connection's descriptor, its peer in `address` (a struct sockaddr_storage of `*length` bytes), or -1
/// with errno.
int tt_accept_nonblocking(int fd, void *address, unsigned int *length);

/// Asks the kernel to queue ICMP errors for datagrams this UDP socket sent (IP_RECVERR / IPV6_RECVERR),
/// so "port unreachable" from a host without a uTP listener is seen at once. 0, or -1 with errno.
int tt_enable_icmp_errors(int fd, int ipv6);

/// Takes one queued error (recvmsg with MSG_ERRQUEUE, non-blocking): the destination of the datagram
/// that failed goes to `info->address`, the error (e.g. ECONNREFUSED for port unreachable) to `*error`
/// (0 when it did not come from ICMP). Returns 1 when one was read, 0 when none waits, -1 with errno.
int tt_read_icmp_error(int fd, tt_datagram_info *info, int *error);

/// open(2) for writing with O_DIRECT (not exported by Swift's Glibc module); -1 with errno on failure.
int tt_open_direct_write(const char *path);

/// posix_spawn(2) of `path` with `argv` (NULL-terminated) and this process's environment, in `directory`
/// (posix_spawn_file_actions_addchdir_np, which Swift's Glibc module lacks), with `stdin_fd`,
/// `stdout_fd` and `stderr_fd` as its fds 0–2 (-1 leaves that fd as ours). The child's pid goes to
/// `*pid`. Returns 0, or an errno value.
int tt_spawn(const char *path, char *const argv[], const char *directory,
             int stdin_fd, int stdout_fd, int stderr_fd, int *pid);

/// mallopt(M_MMAP_THRESHOLD, bytes) (malloc.h is not in Swift's Glibc module): blocks of `bytes` or
/// more get their own mapping, returned to the system when freed. 1 on success.
int tt_set_mmap_threshold(int bytes);

/// Names the calling thread (prctl PR_SET_NAME, at most 15 bytes kept) for `top -H` and debuggers.
void tt_name_this_thread(const char *name);

#endif
