import Foundation
import Kube9Model
import Testing

@Suite("cron schedules")
struct CronScheduleTests {
    static let utc = TimeZone(identifier: "UTC")!
    static func date(_ text: String) -> Date { Date(timeIntervalSince1970: TimeInterval(Timestamp.parse(text) ?? 0)) }
    static func next(_ spec: String, after: String, zone: TimeZone = utc) throws -> String? {
        let schedule = try CronSchedule.parse(spec).get()
        return schedule.next(after: date(after), in: zone).map { Timestamp.format(Int64($0.timeIntervalSince1970)) }
    }

    @Test("next times: every minute, steps, ranges, names, macros, day-of-month or day-of-week, time zones")
    func nextTimes() throws {
        #expect(try Self.next("* * * * *", after: "2026-12-03T10:15:30Z") == "2026-12-03T10:16:00Z")
        #expect(try Self.next("* * * * *", after: "2026-12-03T10:15:00Z") == "2026-12-03T10:16:00Z")
        #expect(try Self.next("*/15 * * * *", after: "2026-12-03T10:15:00Z") == "2026-12-03T10:30:00Z")
        #expect(try Self.next("0 9-17/4 * * mon-fri", after: "2026-12-04T17:00:00Z") == "2026-12-07T09:00:00Z")
        #expect(try Self.next("@hourly", after: "2026-12-31T23:30:00Z") == "2027-01-01T00:00:00Z")
        #expect(try Self.next("@monthly", after: "2026-12-03T00:00:00Z") == "2027-01-01T00:00:00Z")
        #expect(try Self.next("0 0 13 * 5", after: "2026-12-03T00:00:00Z") == "2026-12-04T00:00:00Z", "13th or a Friday")
        #expect(try Self.next("0 0 29 feb *", after: "2026-03-01T00:00:00Z") == "2028-02-29T00:00:00Z")
        #expect(try Self.next("0 0 30 2 *", after: "2026-03-01T00:00:00Z") == nil, "February 30 never comes")
        #expect(try Self.next("0 0 * * 7", after: "2026-12-03T00:00:00Z") == "2026-12-06T00:00:00Z", "7 is Sunday")
        let tokyo = try #require(TimeZone(identifier: "Asia/Tokyo"))
        #expect(try Self.next("0 9 * * *", after: "2026-12-03T01:00:00Z", zone: tokyo) == "2026-12-04T00:00:00Z")
    }

    @Test("bad schedules are refused with what is wrong")
    func errors() {
        for (spec, expected) in [("* * * *", "exactly 5 fields"), ("60 * * * *", "minute"), ("* 24 * * *", "hour"), ("* * 0 * *", "day of month"),
                                 ("* * * 13 *", "month"), ("* * * * 8", "day of week"), ("5-1 * * * *", "backwards"), ("*/0 * * * *", "step"),
                                 ("TZ=UTC * * * * *", "timeZone field"), ("@every 5m", "descriptor"), ("1,,2 * * * *", "empty")] {
            guard case .failure(let error) = CronSchedule.parse(spec) else {
                Issue.record("\(spec) parsed")
                continue
            }
            #expect(error.description.contains(expected), "\(spec): \(error)")
        }
    }

    @Test("CronJob validation: schedule, time zone, policy, name length and the job template, each named")
    func cronJobValidation() {
        let strategy = CronJobStrategy()
        var cronJob: JSON = ["metadata": ["name": "c", "namespace": "default"],
                             "spec": ["schedule": "*/5 * * * *", "timeZone": "Europe/Paris",
                                      "jobTemplate": ["spec": ["template": ["spec": ["restartPolicy": "OnFailure", "containers": [["name": "c", "image": "i"]]]]]]]]
        strategy.prepareForCreate(&cronJob)
        #expect(strategy.validate(cronJob).isEmpty, "\(strategy.validate(cronJob))")
        #expect(cronJob[path: ["spec", "successfulJobsHistoryLimit"]] == 3 && cronJob[path: ["spec", "concurrencyPolicy"]] == "Allow")
        var bad = cronJob
        bad[path: ["metadata", "name"]] = .string(String(repeating: "c", count: 53))
        bad[path: ["spec", "schedule"]] = "61 * * * *"
        bad[path: ["spec", "timeZone"]] = "Mars/Olympus"
        bad[path: ["spec", "concurrencyPolicy"]] = "Sometimes"
        bad[path: ["spec", "jobTemplate", "spec", "template", "spec", "restartPolicy"]] = "Always"
        #expect(Set(strategy.validate(bad).map(\.field)) == ["metadata.name", "spec.schedule", "spec.timeZone", "spec.concurrencyPolicy",
                                                                "spec.jobTemplate.spec.template.spec.restartPolicy"], "\(strategy.validate(bad))")
    }
}
