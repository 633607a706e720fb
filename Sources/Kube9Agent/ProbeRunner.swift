import Foundation
import Kube9Client
import Kube9Runtime

/// Runs one probe against a container: httpGet (2xx and 3xx succeed), tcpSocket (a connection
/// opens), exec (exit code 0). A timeout is a failure.
public enum ProbeRunner {
    public static func run(_ probe: ProbeSpec, podIP: String, containerID: String, runtime: any ContainerRuntime) -> Bool {
        switch probe.action {
        case .httpGet(let path, let port, let scheme, let host):
            guard let connection = try? HTTPConnection(baseURL: "\(scheme)://\(host ?? podIP):\(port)") else { return false }
            connection.timeoutSeconds = Int(probe.timeoutSeconds.rounded(.up))
            guard let reply = try? connection.request("GET", path.hasPrefix("/") ? path : "/" + path, accept: "*/*") else { return false }
            return (200..<400).contains(reply.status)
        case .tcpSocket(let port, let host):
            return tcpConnects(host: host ?? podIP, port: port, timeoutSeconds: probe.timeoutSeconds)
        case .exec(let command):
            guard let code = try? runtime.exec(id: containerID, command: command, timeoutSeconds: probe.timeoutSeconds) else { return false }
            return code == 0
        }
    }

    /// True when a TCP connection to host:port (IPv4 address) opens within the timeout.
    public static func tcpConnects(host: String, port: Int, timeoutSeconds: Double) -> Bool {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return false }
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result == 0 { return true }
        guard errno == EINPROGRESS else { return false }
        var poller = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        let milliseconds = Int32(clamping: Int64(checkedRounding: min(timeoutSeconds * 1000, Double(Int32.max))) ?? 1000)
        guard poll(&poller, 1, milliseconds) == 1 else { return false }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
        return error == 0
    }
}
