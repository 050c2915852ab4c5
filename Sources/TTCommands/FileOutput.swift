import FoundationEssentials
import Glibc

/// Writing result files without ever leaving a half-written one behind.
enum FileOutput {
    /// Temporary file beside the target, fsync, rename: the target is either old or complete.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(TTError) {
        // A device, FIFO or socket (`-o /dev/null`, `-o /dev/stdout`) is written in place: renaming a
        // file over it would replace /dev/null itself with a regular file.
        var info = stat()
        if stat(path, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG && (info.st_mode & S_IFMT) != S_IFDIR {
            try writeInPlace(bytes, to: path)
            return
        }
        let temporary = path + ".tt-partial-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ioError(path, errno) }
        var offset = 0
        let failure: Int32? = bytes.withUnsafeBytes { raw -> Int32? in
            while offset < raw.count {
                let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 { if errno == EINTR { continue }; return errno }
                offset += written
            }
            return fsync(fd) == 0 ? nil : errno
        }
        close(fd)
        if let failure {
            unlink(temporary)
            throw ioError(path, failure)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw ioError(path, code)
        }
    }

    static func writeInPlace(_ bytes: [UInt8], to path: String) throws(TTError) {
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { throw ioError(path, errno) }
        defer { close(fd) }
        var offset = 0
        let failure: Int32? = bytes.withUnsafeBytes { raw -> Int32? in
            while offset < raw.count {
                let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 { if errno == EINTR { continue }; return errno }
                offset += written
            }
            return nil
        }
        if let failure { throw ioError(path, failure) }
    }

    static func ioError(_ path: String, _ code: Int32) -> TTError {
        TTError(.ioError, kind: "io_error", "\(path): \(String(cString: strerror(code)))")
    }
}
