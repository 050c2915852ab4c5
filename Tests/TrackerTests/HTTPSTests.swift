import Foundation
import JSON
import Testing
import TestSupport

/// https:// trackers: TLS from the system's libssl (loaded at the first HTTPS request), in front of
/// a real TLS server — nginx from Debian, proxying to `tt tracker` — with a self-signed certificate.
/// Untrusted, it is refused by name; trusted through `--ca-file` or `SSL_CERT_FILE`, announce and
/// scrape succeed end to end.
@Suite(.serialized) struct HTTPSTests {
    /// nginx terminating TLS on `port` (checked to be its own: `startListening`) and proxying to the tracker on `upstream`.
    struct TLSProxy {
        let folder: TemporaryDirectory
        let process: ManagedProcess
        let port: Int
        var certificate: String { folder.file("cert.pem") }

        init(upstream: Int) throws {
            folder = TemporaryDirectory("tt-https")
            let made = runCommand("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", folder.file("key.pem"),
                                                       "-out", folder.file("cert.pem"), "-days", "1", "-subj", "/CN=127.0.0.1",
                                                       "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], timeout: 60)
            try #require(made.status == 0, "openssl: \(made.output)")
            let nginx = try #require(RealTools.nginx, "nginx is not installed and could not be")
            let temp = folder.path + "/", work = folder
            process = try startListening("nginx (TLS)", uses: [.tcp]) { ports in
                let config = """
                daemon off;
                worker_processes 1;
                pid \(temp)nginx.pid;
                error_log \(temp)error.log;
                events { worker_connections 64; }
                http {
                  access_log off;
                  client_body_temp_path \(temp)body; proxy_temp_path \(temp)proxy; fastcgi_temp_path \(temp)fcgi;
                  uwsgi_temp_path \(temp)uwsgi; scgi_temp_path \(temp)scgi;
                  server {
                    listen 127.0.0.1:\(ports[0]) ssl;
                    ssl_certificate \(work.file("cert.pem"));
                    ssl_certificate_key \(work.file("key.pem"));
                    location / { proxy_pass http://127.0.0.1:\(upstream); }
                  }
                }
                """
                let path = work.write("nginx.conf", Array(config.utf8))
                return try ManagedProcess(nginx, ["-c", path, "-e", work.file("error.log")], label: "nginx")
            }
            port = process.port
        }
    }

    /// `tt tracker` on a port of its choosing; returns the process and its HTTP port.
    static func startTracker() throws -> (ManagedProcess, Int) {
        let tracker = try ManagedProcess(ttExecutable, ["tracker", "--http-port", "0", "--udp-port", "off", "--json", "-q"])
        return (tracker, try tracker.listeningPort("http_port"))
    }

    static let hash = String(repeating: "01", count: 20)

    @Test func selfSignedTrackerIsRefusedWithTheReason() throws {
        let (tracker, upstream) = try Self.startTracker()
        defer { tracker.stop() }
        let proxy = try TLSProxy(upstream: upstream)
        defer { proxy.process.stop() }
        let url = "https://127.0.0.1:\(proxy.port)/announce"
        let result = CLI.run(["announce", Self.hash, "--tracker", url, "--timeout", "10"])
        #expect(result.code == 69, "\(result.stderr)")
        #expect(result.stderr.contains(url) && result.stderr.contains("certificate not trusted"), "\(result.stderr)")
    }

    @Test func trustedAnnounceAndScrapeSucceed() throws {
        let (tracker, upstream) = try Self.startTracker()
        defer { tracker.stop() }
        let proxy = try TLSProxy(upstream: upstream)
        defer { proxy.process.stop() }
        let url = "https://127.0.0.1:\(proxy.port)/announce"

        let announce = CLI.run(["announce", Self.hash, "--tracker", url, "--ca-file", proxy.certificate, "--port", "6881", "--json"])
        #expect(announce.code == 0, "\(announce.stderr)")
        let reply = try JSONParser().parse(announce.stdout)
        #expect(reply["protocol"]?.stringValue == "https")
        #expect(reply["incomplete"]?.intValue == 1, "the tracker behind nginx counted our announce: \(announce.stdoutText)")

        // The same trust through OpenSSL's environment (so a separate process: the variable is read
        // by libssl), and a host name checked against the certificate.
        let scrape = try ManagedProcess(ttExecutable, ["scrape", Self.hash, "--tracker", "https://localhost:\(proxy.port)/announce", "--json"],
                                        environment: ["SSL_CERT_FILE": proxy.certificate])
        #expect(scrape.wait(timeout: 30) == 0, "\(scrape.log)")
        #expect(scrape.log.contains("\"incomplete\":1"), "\(scrape.log)")
        #expect(tracker.log.contains("\"event\":\"scrape\""), "the scrape reached tt tracker: \(tracker.log)")
    }
}
