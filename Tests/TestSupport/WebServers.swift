import Foundation

/// Plain HTTP file servers on loopback for web seed tests (BEP 19), each a `ManagedProcess` stopped by pid:
/// nginx (Debian's; byte ranges answered with 206) and Python's `http.server` (no Range support: 200 with the whole file).
public enum WebServers {
    public struct Server {
        public let process: ManagedProcess
        public let port: Int
        /// The self-signed certificate (PEM) of a TLS server.
        public var certificate: String? = nil
        public var base: String { "\(certificate == nil ? "http" : "https")://127.0.0.1:\(port)/" }
    }

    /// nginx serving `root` over TLS on 127.0.0.1 with a self-signed certificate for 127.0.0.1 (made with openssl).
    public static func nginxTLS(root: String, work: TemporaryDirectory) throws -> Server? {
        let cert = work.file("nginx-tls/cert.pem"), key = work.file("nginx-tls/key.pem")
        try FileManager.default.createDirectory(atPath: work.file("nginx-tls"), withIntermediateDirectories: true)
        let made = runCommand("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                                                   "-days", "1", "-subj", "/CN=127.0.0.1",
                                                   "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], timeout: 60)
        guard made.status == 0 else { throw WebServerError("openssl: \(made.output)") }
        guard var server = try nginx(root: root, work: work, listen: "ssl; ssl_certificate \(cert); ssl_certificate_key \(key)") else { return nil }
        server.certificate = cert
        return server
    }

    /// nginx serving `root` on 127.0.0.1 (a port it is checked to own), with its config, pid and logs in `work`.
    public static func nginx(root: String, work: TemporaryDirectory, listen extra: String = "") throws -> Server? {
        guard RealTools.ensure("nginx", probe: "/usr/sbin/nginx") else { return nil }
        let prefix = work.file(extra.isEmpty ? "nginx" : "nginx-tls")
        try FileManager.default.createDirectory(atPath: prefix + "/tmp", withIntermediateDirectories: true)
        let process = try startListening("nginx", uses: [.tcp]) { ports in
            let config = """
            \(getuid() == 0 ? "user root;" : "")
            worker_processes 1;
            error_log \(prefix)/error.log;
            pid \(prefix)/nginx.pid;
            events { worker_connections 64; }
            http {
                access_log \(prefix)/access.log;
                client_body_temp_path \(prefix)/tmp; proxy_temp_path \(prefix)/tmp; fastcgi_temp_path \(prefix)/tmp;
                uwsgi_temp_path \(prefix)/tmp; scgi_temp_path \(prefix)/tmp;
                server { listen 127.0.0.1:\(ports[0]) \(extra); root \(root); autoindex on; }
            }
            """
            work.write((prefix as NSString).lastPathComponent + "/nginx.conf", Array(config.utf8))
            return try ManagedProcess("/usr/sbin/nginx", ["-p", prefix, "-c", prefix + "/nginx.conf", "-g", "daemon off;"], label: "nginx")
        }
        return Server(process: process, port: process.port)
    }

    /// `python3 -m http.server` serving `root` on 127.0.0.1 (a port it is checked to own).
    public static func pythonHTTP(root: String) throws -> Server {
        let process = try startListening("http.server", uses: [.tcp]) { ports in
            try ManagedProcess(RealTools.systemPython, ["-m", "http.server", "--bind", "127.0.0.1", "--directory", root, String(ports[0])],
                               label: "http.server")
        }
        return Server(process: process, port: process.port)
    }

    /// The nginx access log lines so far (what was requested, with status and bytes).
    public static func accessLog(_ work: TemporaryDirectory) -> String {
        String(decoding: readBytes(work.file("nginx/access.log")), as: UTF8.self)
    }
}

public struct WebServerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
