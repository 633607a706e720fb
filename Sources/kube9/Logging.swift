import ArgumentParser
import Foundation
import Logging

/// How log lines are written to standard error.
enum LogFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Log options shared by every long-running command.
struct LogOptions: ParsableArguments {
    @Option(help: "Log line format: text or json.")
    var logFormat: LogFormat = .text

    @Option(help: "Lowest level logged: trace, debug, info, notice, warning, error, critical. Requests are logged at debug.")
    var logLevel: Logger.Level = .info

    /// Installs the chosen handler process-wide and returns the root logger.
    func bootstrap(label: String) -> Logger {
        let format = logFormat
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, format: format)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

/// One line per log record on standard error, as text (`time level label: message key=value`)
/// or as a JSON object (`{"time":…,"level":…,"logger":…,"msg":…, metadata…}`).
struct LineLogHandler: LogHandler {
    let label: String
    let format: LogFormat
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let milliseconds = Int(spec.tv_nsec / 1_000_000)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, milliseconds)
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line: String
        switch format {
        case .text:
            let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            line = "\(Self.timestamp()) \(event.level) \(label): \(event.message)" + (fields.isEmpty ? "" : " \(fields)")
        case .json:
            var object: [String: Any] = ["time": Self.timestamp(), "level": event.level.rawValue, "logger": label, "msg": "\(event.message)"]
            for (key, value) in merged { object[key] = "\(value)" }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
