import Foundation
import Kube9Client
import Kube9Model
@_exported import Kube9Runtime
import Kube9Store

/// Where the kube9 binary under test is: `KUBE9_BINARY`, else the package's release build.
public func kube9BinaryPath(file: String = #filePath) -> String {
    if let path = ProcessInfo.processInfo.environment["KUBE9_BINARY"], !path.isEmpty { return path }
    var url = URL(fileURLWithPath: file)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            return url.appendingPathComponent(".build/release/kube9").path
        }
    }
    return ".build/release/kube9"
}

/// A real `kube9 server` process on 127.0.0.1 with a port of its own choosing and a temporary
/// data directory. Stopped by pid (SIGTERM, or SIGKILL for crash tests).
public final class ServerProcess: @unchecked Sendable {
    public let dataDirectory: String
    public let process: Process
    public private(set) var url: String = ""
    public let arguments: [String]
    let logPath: String

    /// Starts a server (reusing `dataDirectory` when given) and waits until /readyz answers 200.
    /// The scheduler runs only when `scheduler` is true: tests of the API itself want pods that
    /// nothing else writes to.
    public init(dataDirectory: String? = nil, extraArguments: [String] = [], scheduler: Bool = false, timeoutSeconds: Double = 30) throws {
        let directory = dataDirectory ?? (NSTemporaryDirectory() + "kube9-test-\(UUID().uuidString)")
        self.dataDirectory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: directory + "/kubeconfig")
        arguments = ["server", "--data-dir", directory, "--listen", "127.0.0.1:0", "--log-level", "info"]
            + (scheduler ? [] : ["--disable-scheduler"]) + extraArguments
        logPath = directory + "/server-\(UUID().uuidString.prefix(8)).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: kube9BinaryPath())
        process.arguments = arguments
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            if let server = try? Kube9Client.serverURL(kubeconfigPath: kubeconfigPath),
               let connection = try? HTTPConnection(baseURL: server),
               let reply = try? connection.request("GET", "/readyz"), reply.status == 200 {
                url = server
                return
            }
            if !process.isRunning { break }
            usleep(20_000)
        }
        process.terminate()
        throw ClientError("kube9 server did not become ready: \(self.log())")
    }

    /// The kubeconfig the server wrote.
    public var kubeconfigPath: String { dataDirectory + "/kubeconfig" }

    /// The database file.
    public var databasePath: String { dataDirectory + "/kube9.db" }

    /// The server's log so far.
    public func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// A client for this server.
    public func client() -> Kube9Client { Kube9Client(baseURL: url) }

    /// A blocking connection for this server.
    public func connection() throws -> HTTPConnection { try HTTPConnection(baseURL: url) }

    /// SIGTERM, then waits; returns the exit status.
    @discardableResult
    public func stop() -> Int32 {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    /// SIGKILL, then waits (a crash).
    public func kill9() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Stops the server and deletes its data directory.
    public func destroy() {
        stop()
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Runs a program to completion with a time limit (killed past it) and captures its output
/// (see `Subprocess.run`).
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                       timeoutSeconds: Double = 60) throws -> CommandResult {
    try Subprocess.run(executable, arguments, environment: environment, timeoutSeconds: timeoutSeconds)
}

extension ServerProcess {
    /// Runs `/usr/bin/kubectl` against this server with an empty cache directory.
    public func kubectl(_ arguments: String..., timeoutSeconds: Double = 60) throws -> CommandResult {
        try kubectl(arguments: arguments, timeoutSeconds: timeoutSeconds)
    }

    public func kubectl(arguments: [String], timeoutSeconds: Double = 60) throws -> CommandResult {
        try runCommand("/usr/bin/kubectl", ["--kubeconfig", kubeconfigPath, "--cache-dir", dataDirectory + "/kubectl-cache"] + arguments,
                       timeoutSeconds: timeoutSeconds)
    }
}

/// `PRAGMA integrity_check` of a kube9 database file, through the sqlite3 library the server uses.
public func integrityCheck(_ path: String) throws -> String {
    try SQLiteStore.integrityCheck(path: path)
}
