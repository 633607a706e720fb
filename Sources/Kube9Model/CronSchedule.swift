import Foundation

/// A standard five-field cron schedule (minute hour day-of-month month day-of-week), as
/// Kubernetes' CronJob parses it: `*`, `?`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists,
/// month and weekday names, 7 as Sunday, and the macros `@yearly`, `@annually`, `@monthly`,
/// `@weekly`, `@daily`, `@midnight`, `@hourly`. When both day fields are restricted a day
/// matching either runs (Vixie cron).
public struct CronSchedule: Sendable, Equatable {
    public let minutes: Set<Int>
    public let hours: Set<Int>
    public let days: Set<Int>
    public let months: Set<Int>
    /// 0 = Sunday.
    public let weekdays: Set<Int>
    let daysRestricted: Bool
    let weekdaysRestricted: Bool

    static let macros = ["@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
                         "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"]
    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// Parses `text`; the error says what is wrong, as a 422's detail.
    public static func parse(_ text: String) -> Result<CronSchedule, CronError> {
        let trimmed = text.trimmingSpaces
        if trimmed.hasPrefix("TZ=") || trimmed.hasPrefix("CRON_TZ=") {
            return .failure(CronError("cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
        }
        guard trimmed.utf8.count <= 1024 else { return .failure(CronError("must be at most 1024 characters")) }
        let expanded = macros[trimmed.lowercased()] ?? trimmed
        if expanded.hasPrefix("@") { return .failure(CronError("unrecognized descriptor: \(trimmed)")) }
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else { return .failure(CronError("expected exactly 5 fields, found \(fields.count): \(trimmed)")) }
        do {
            let minutes = try field(fields[0], 0...59, names: [], what: "minute")
            let hours = try field(fields[1], 0...23, names: [], what: "hour")
            let days = try field(fields[2], 1...31, names: [], what: "day of month")
            let months = try field(fields[3], 1...12, names: monthNames, what: "month", nameBase: 1)
            var weekdays = try field(fields[4], 0...7, names: dayNames, what: "day of week")
            if weekdays.remove(7) != nil { weekdays.insert(0) }
            // As robfig/cron (which Kubernetes uses): a field starting with * or ? does not restrict.
            let unrestricted: (String) -> Bool = { $0.hasPrefix("*") || $0.hasPrefix("?") }
            return .success(CronSchedule(minutes: minutes, hours: hours, days: days, months: months, weekdays: weekdays,
                                         daysRestricted: !(unrestricted(fields[2])), weekdaysRestricted: !(unrestricted(fields[4]))))
        } catch {
            return .failure(error)
        }
    }

    static func field(_ text: String, _ range: ClosedRange<Int>, names: [String], what: String, nameBase: Int = 0) throws(CronError) -> Set<Int> {
        func number(_ part: String) throws(CronError) -> Int {
            if let value = Int(part), range.contains(value) { return value }
            if let index = names.firstIndex(of: part.lowercased()) { return index + nameBase }
            throw CronError("\(what): \(part) is not a value in \(range.lowerBound)-\(range.upperBound)")
        }
        var values = Set<Int>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            guard !item.isEmpty else { throw CronError("\(what): empty list item in \(text)") }
            let pieces = item.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard pieces.count <= 2 else { throw CronError("\(what): too many slashes in \(item)") }
            var step = 1
            if pieces.count == 2 {
                guard let value = Int(pieces[1]), value > 0, value <= range.upperBound + 1 else { throw CronError("\(what): bad step in \(item)") }
                step = value
            }
            let span: ClosedRange<Int>
            if pieces[0] == "*" || pieces[0] == "?" {
                span = range
            } else if let dash = pieces[0].firstIndex(of: "-") {
                let low = try number(String(pieces[0][..<dash]))
                let high = try number(String(pieces[0][pieces[0].index(after: dash)...]))
                guard low <= high else { throw CronError("\(what): range \(pieces[0]) runs backwards") }
                span = low...high
            } else {
                let single = try number(pieces[0])
                span = pieces.count == 2 ? single...range.upperBound : single...single
            }
            values.formUnion(stride(from: span.lowerBound, through: span.upperBound, by: step))
        }
        return values
    }

    /// Whether a run is due on this day.
    func dayMatches(day: Int, weekday: Int) -> Bool {
        if daysRestricted && weekdaysRestricted { return days.contains(day) || weekdays.contains(weekday) }
        return days.contains(day) && weekdays.contains(weekday)
    }

    /// The first scheduled minute strictly after `date`, in `timeZone`; nil when none comes
    /// within about five years (a day that never occurs, such as February 30).
    public func next(after date: Date, in timeZone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        // The next whole minute (every zone in use today is offset from UTC by whole minutes).
        var candidate = Date(timeIntervalSince1970: ((date.timeIntervalSince1970 / 60).rounded(.down) + 1) * 60)
        let limit = date.addingTimeInterval(5 * 366 * 86_400)
        for _ in 0..<200_000 {
            guard candidate <= limit else { return nil }
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: candidate)
            guard let month = parts.month, let day = parts.day, let hour = parts.hour, let minute = parts.minute, let weekday = parts.weekday else { return nil }
            if !months.contains(month) {
                guard let start = calendar.date(from: DateComponents(year: parts.year, month: month, day: 1)),
                      let nextMonth = calendar.date(byAdding: .month, value: 1, to: start) else { return nil }
                candidate = nextMonth
            } else if !dayMatches(day: day, weekday: weekday - 1) {
                guard let nextDay = calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: candidate)) else { return nil }
                candidate = nextDay
            } else if !hours.contains(hour) {
                guard let nextHour = calendar.date(byAdding: .minute, value: 60 - minute, to: candidate) else { return nil }
                candidate = nextHour
            } else if !minutes.contains(minute) {
                candidate = candidate.addingTimeInterval(60)
            } else {
                return candidate
            }
        }
        return nil
    }
}

/// Why a cron schedule does not parse.
public struct CronError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
