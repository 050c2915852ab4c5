import Foundation
import Testing
import TestSupport

/// https:// goes through FoundationNetworking (libcurl). It trusts only the system CA bundle,
/// so a loopback tracker with a self-signed certificate must be refused, quickly and by name.
@Suite struct HTTPSTests {
    static let server = """
    import http.server, ssl, sys
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"d8:intervali77e5:peers6:\\x7f\\x00\\x00\\x05\\x1a\\xe1e"
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
        def log_message(self, *a): pass
    s = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    s.socket = ctx.wrap_socket(s.socket, server_side=True)
    s.serve_forever()
    """

    @Test func selfSignedTrackerIsRefusedWithTheReason() throws {
        let folder = TemporaryDirectory("tt-https")
        let made = runCommand("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", folder.file("key.pem"),
                                                   "-out", folder.file("cert.pem"), "-days", "1", "-subj", "/CN=127.0.0.1",
                                                   "-addext", "subjectAltName=IP:127.0.0.1"], timeout: 60)
        try #require(made.status == 0, "openssl: \(made.output)")
        let port = freePort()
        let script = folder.write("server.py", Array(Self.server.utf8))
        let server = try ManagedProcess(RealTools.systemPython, [script, String(port), folder.file("cert.pem"), folder.file("key.pem")])
        defer { server.stop() }
        try #require(waitForTCP(port: port), "https server: \(server.log)")
        let url = "https://127.0.0.1:\(port)/announce"
        let result = CLI.run(["announce", String(repeating: "01", count: 20), "--tracker", url, "--timeout", "10"])
        #expect(result.code == 69, "\(result.stderr)")
        #expect(result.stderr.contains(url) && result.stderr.lowercased().contains("certificate"), "\(result.stderr)")
    }
}
