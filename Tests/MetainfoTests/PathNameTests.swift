import Glibc
import Metainfo
import Testing

/// `PathName` stands in for Foundation's NSString path methods: the same answers on the cases
/// our commands meet (the table is what NSString gives).
@Suite struct PathNameTests {
    @Test(arguments: [("/tmp/scratch.tiff", "scratch.tiff"), ("/tmp/scratch/", "scratch"), ("scratch///", "scratch"),
                      ("/", "/"), ("", ""), ("a", "a"), ("a/b/c", "c")])
    func last(_ path: String, _ expected: String) {
        #expect(PathName.last(path) == expected)
    }

    @Test(arguments: [("/tmp/scratch.tiff", "/tmp"), ("/tmp/lock/", "/tmp"), ("/tmp/", "/"), ("/tmp", "/"), ("/", "/"),
                      ("scratch.tiff", ""), ("a/b", "a"), ("a//b", "a")])
    func deletingLast(_ path: String, _ expected: String) {
        #expect(PathName.deletingLast(path) == expected)
    }

    @Test(arguments: [("/tmp", "x", "/tmp/x"), ("/tmp/", "x", "/tmp/x"), ("/", "x", "/x"), ("", "x", "x"), ("a", "", "a"),
                      ("out", ".tt", "out/.tt")])
    func appending(_ path: String, _ component: String, _ expected: String) {
        #expect(PathName.appending(path, component) == expected)
    }

    /// A torrent made from "." or ".." is named after the real folder, as `tt create .` always was.
    @Test func resolvedNameOfDotAndDotDotIsTheRealFolder() throws {
        let base = "/tmp/tt-pathname-\(getpid())"
        #expect(mkdir(base, 0o755) == 0 || errno == EEXIST)
        #expect(mkdir(base + "/inner", 0o755) == 0 || errno == EEXIST)
        defer { rmdir(base + "/inner"); rmdir(base) }
        #expect(PathName.resolvedName(base + "/inner/.") == "inner")
        #expect(PathName.resolvedName(base + "/inner/..") == PathName.last(base))
        #expect(PathName.resolvedName(base + "/inner/../inner/") == "inner")
        #expect(PathName.kind(base) == .directory)
        #expect(PathName.kind(base + "/missing") == nil)
    }
}
