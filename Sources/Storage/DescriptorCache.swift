import CTTNet
import Glibc
import Synchronization

/// Open descriptors shared by reader and writer threads, at most `limit` at a time.
/// A descriptor in use is never closed; idle ones are closed oldest first (dirty ones fsynced first).
final class DescriptorCache: @unchecked Sendable {
    private struct Entry {
        var fd: Int32
        var users: Int
        var dirty: Bool
        var lastUse: UInt64
        var path: String
        /// The same file opened with `O_DIRECT` for aligned writes: `notOpened` until first asked for,
        /// `unsupported` where the file system refuses it.
        var direct: Int32 = DescriptorCache.notOpened
        /// Direct writes failed once (EINVAL): buffered from then on; `direct` stays open until the entry
        /// goes, as another thread may be writing through it.
        var directDisabled = false
    }
    static let notOpened: Int32 = -1
    static let unsupported: Int32 = -2
    /// `failure`: an fsync that failed when a dirty descriptor was evicted; the next `syncDirty`
    /// (the checkpoint) throws it, so the resume state never records writes that may be lost.
    private let state = Mutex<(entries: [Int: Entry], clock: UInt64, failure: StorageError?)>(([:], 0, nil))
    private let limit: Int
    private let writable: Bool
    /// fsync(2); tests swap in a failing one (a failing disk cannot be had on demand).
    var syncFile: @Sendable (Int32) -> Int32 = { fsync($0) }

    init(limit: Int, writable: Bool) {
        self.limit = limit
        self.writable = writable
    }

    /// Runs `body` with the file's descriptor, or nil when the file does not exist (read-only stores).
    func withDescriptor<T>(file: Int, path: String, dirty: Bool = false, _ body: (Int32?) throws(StorageError) -> T) throws(StorageError) -> T {
        let fd = try acquire(file: file, path: path, dirty: dirty)
        defer { if let fd { release(file: file, fd: fd) } }
        return try body(fd)
    }

    private func acquire(file: Int, path: String, dirty: Bool) throws(StorageError) -> Int32? {
        let existing: Int32? = state.withLock { state in
            state.clock += 1
            guard var entry = state.entries[file] else { return nil }
            entry.users += 1
            entry.dirty = entry.dirty || dirty
            entry.lastUse = state.clock
            state.entries[file] = entry
            return entry.fd
        }
        if let existing { return existing }
        let fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw .io(path: path, operation: "open", errno: errno)
        }
        if !writable { _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) }
        var toClose: [(fd: Int32, dirty: Bool, path: String)] = []
        let chosen: Int32 = state.withLock { state in
            state.clock += 1
            if var entry = state.entries[file] {  // another thread opened it meanwhile
                entry.users += 1
                entry.dirty = entry.dirty || dirty
                entry.lastUse = state.clock
                state.entries[file] = entry
                toClose.append((fd, false, path))
                return entry.fd
            }
            state.entries[file] = Entry(fd: fd, users: 1, dirty: dirty, lastUse: state.clock, path: path)
            while state.entries.count > limit {
                guard let victim = state.entries.filter({ $0.value.users == 0 }).min(by: { $0.value.lastUse < $1.value.lastUse }) else { break }
                toClose.append((victim.value.fd, victim.value.dirty, victim.value.path))
                if victim.value.direct >= 0 { close(victim.value.direct) }  // its writes are synced through `fd`
                state.entries[victim.key] = nil
            }
            return fd
        }
        for (victim, dirty, victimPath) in toClose {
            // Written data of an evicted file must reach the disk before its descriptor goes.
            if dirty && syncFile(victim) != 0 {
                let failure = StorageError.io(path: victimPath, operation: "fsync", errno: errno)
                state.withLock { if $0.failure == nil { $0.failure = failure } }
            }
            close(victim)
        }
        return chosen
    }

    /// The `O_DIRECT` descriptor of a file the caller holds (inside `withDescriptor`), opened on first
    /// use; nil where the file system refuses direct I/O. `fsync` of the buffered descriptor covers
    /// its writes (it syncs the file, not the descriptor).
    func directDescriptor(file: Int, path: String) -> Int32? {
        let known: Int32? = state.withLock { state in
            guard let entry = state.entries[file], !entry.directDisabled else { return nil }
            return entry.direct
        }
        guard let known else { return nil }
        if known >= 0 { return known }
        if known == Self.unsupported { return nil }
        let opened = tt_open_direct_write(path)
        return state.withLock { state -> Int32? in
            guard var entry = state.entries[file] else { if opened >= 0 { close(opened) }; return nil }
            if entry.direct >= 0 {  // another thread opened it meanwhile
                if opened >= 0 { close(opened) }
                return entry.direct
            }
            entry.direct = opened >= 0 ? opened : Self.unsupported
            state.entries[file] = entry
            return opened >= 0 ? opened : nil
        }
    }

    /// Direct writes to this file failed with EINVAL (alignment the device does not take): buffered from now on.
    func disableDirect(file: Int) {
        state.withLock { state in
            state.entries[file]?.directDisabled = true
        }
    }

    private func release(file: Int, fd: Int32) {
        state.withLock { state in
            if var entry = state.entries[file], entry.fd == fd {
                entry.users -= 1
                state.entries[file] = entry
            }
        }
    }

    func syncDirty(paths: [String]) throws(StorageError) {
        let dirty: [(Int, Int32)] = state.withLock { state in
            var list: [(Int, Int32)] = []
            for (file, var entry) in state.entries where entry.dirty {
                entry.users += 1
                entry.dirty = false
                state.entries[file] = entry
                list.append((file, entry.fd))
            }
            return list
        }
        var failure: StorageError? = state.withLock { state in
            defer { state.failure = nil }
            return state.failure
        }
        for (file, fd) in dirty {
            if syncFile(fd) != 0 && failure == nil { failure = .io(path: paths[file], operation: "fsync", errno: errno) }
            release(file: file, fd: fd)
        }
        if let failure { throw failure }
    }

    func closeAll() {
        state.withLock { state in
            for entry in state.entries.values {
                if entry.dirty { fsync(entry.fd) }
                close(entry.fd)
                if entry.direct >= 0 { close(entry.direct) }
            }
            state.entries = [:]
        }
    }
}
