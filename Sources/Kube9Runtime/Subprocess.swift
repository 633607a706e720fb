import Foundation

/// The output of a finished command.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// True when the time limit ran out and the command was killed.
    public var timedOut: Bool
}

/// Starting programs with posix_spawn and waitpid directly: Foundation's Process waits on
/// descriptors a daemonized grandchild may keep open, and cannot start a new session.
public enum Subprocess {
    /// Runs a program to completion with a time limit (killed past it) and captures its output.
    /// `environment` adds to (or, with `inheritEnvironment` false, replaces) the caller's.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           inheritEnvironment: Bool = true, workingDirectory: String? = nil,
                           timeoutSeconds: Double = 60) throws -> CommandResult {
        let outPath = NSTemporaryDirectory() + "kube9-cmd-\(UUID().uuidString)"
        defer {
            try? FileManager.default.removeItem(atPath: outPath + ".out")
            try? FileManager.default.removeItem(atPath: outPath + ".err")
        }
        var env = inheritEnvironment ? ProcessInfo.processInfo.environment : [:]
        for (key, value) in environment { env[key] = value }
        let pid = try spawn(executable, arguments, environment: env, workingDirectory: workingDirectory,
                            stdoutPath: outPath + ".out", stderrPath: outPath + ".err", newSession: false)
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var status: Int32 = 0
        var timedOut = false
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid || result < 0 { break }
            if Date() > deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                timedOut = true
                break
            }
            usleep(2_000)
        }
        let stdout = (try? String(contentsOfFile: outPath + ".out", encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: outPath + ".err", encoding: .utf8)) ?? ""
        return CommandResult(status: exitCode(fromWaitStatus: status), stdout: stdout, stderr: stderr, timedOut: timedOut)
    }

    /// A wait status as a shell would report it: the exit code, or 128 + the signal.
    public static func exitCode(fromWaitStatus status: Int32) -> Int32 {
        (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Starts a program with stdin from /dev/null and stdout/stderr appended to files; returns
    /// its pid without waiting. `newSession` detaches it (setsid) so it outlives the caller;
    /// `newProcessGroup` makes it lead a group of its own (signals reach its children too).
    /// A working directory is entered by `/bin/sh -c 'cd DIR && exec "$@"'`.
    public static func spawn(_ executable: String, _ arguments: [String], environment: [String: String],
                             workingDirectory: String? = nil, stdoutPath: String, stderrPath: String,
                             newSession: Bool, newProcessGroup: Bool = false) throws -> pid_t {
        var program = executable
        var argumentList = [executable] + arguments
        if let workingDirectory {
            program = "/bin/sh"
            argumentList = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", workingDirectory, executable] + arguments
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        // Nothing else is inherited: a daemon (a shim) holding the caller's pipes would keep
        // whoever waits on them (Foundation's Process, a test harness) waiting.
        for descriptor in openDescriptors() where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var flags: Int32 = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if newSession { flags |= 0x80 }  // POSIX_SPAWN_SETSID (glibc ≥ 2.26), not exported to Swift
        if newProcessGroup && !newSession {
            flags |= POSIX_SPAWN_SETPGROUP
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGCHLD, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(flags))
        let argv: [UnsafeMutablePointer<CChar>?] = argumentList.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = program.contains("/")
            ? posix_spawn(&pid, program, &actions, &attributes, argv, envp)
            : posix_spawnp(&pid, program, &actions, &attributes, argv, envp)
        guard spawned == 0 else {
            throw RuntimeError.refused(operation: "start \(executable)", detail: String(cString: strerror(spawned)))
        }
        return pid
    }

    /// The descriptors open in this process (from /proc/self/fd).
    static func openDescriptors() -> [Int32] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return [] }
        return names.compactMap { Int32($0) }.filter { fcntl($0, F_GETFD) >= 0 }
    }

    /// The absolute path of an executable: as given when it contains a slash, else found on PATH.
    public static func resolveExecutable(_ name: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// The running binary's own path (/proc/self/exe).
    public static func currentExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
