import Foundation
import Kube9Client
import Kube9Model
import Kube9Testing
import Testing

/// [K8] acceptance 3 (Jobs) through the real binary, kubectl and the process runtime.
@Suite("jobs through kubectl", .serialized)
struct JobTests {
    @Test("completions 5 / parallelism 2 finishes with 5 succeeded pods, never more than 2 at once; a failing Job stops at backoffLimit with Failed; Indexed pods get their index; kubectl create job and wait work")
    func jobs() throws {
        let timing = ProcessAgentTests.timing
        let server = try ServerProcess(extraArguments: timing, scheduler: true)
        defer { server.destroy() }
        let agent = try AgentProcess(server: server, name: "job1", cpus: "4", timing: timing,
                                     extraArguments: ["--runtime", "process", "--data-dir", server.dataDirectory + "/agent"])
        defer { agent.kill9() }
        let manifests = server.dataDirectory + "/jobs.yaml"
        try """
            apiVersion: batch/v1
            kind: Job
            metadata: {name: five}
            spec:
              completions: 5
              parallelism: 2
              template:
                spec:
                  restartPolicy: Never
                  containers: [{name: w, image: host, command: ["/bin/sh", "-c", "sleep 1"]}]
            ---
            apiVersion: batch/v1
            kind: Job
            metadata: {name: failing}
            spec:
              backoffLimit: 1
              template:
                spec:
                  restartPolicy: Never
                  containers: [{name: w, image: host, command: ["/bin/sh", "-c", "exit 3"]}]
            ---
            apiVersion: batch/v1
            kind: Job
            metadata: {name: indexed}
            spec:
              completions: 3
              parallelism: 3
              completionMode: Indexed
              template:
                spec:
                  restartPolicy: Never
                  containers: [{name: w, image: host, command: ["/bin/sh", "-c", "echo index=$JOB_COMPLETION_INDEX; sleep 600"]}]
            """.write(toFile: manifests, atomically: true, encoding: .utf8)
        let applied = try server.kubectl("apply", "-f", manifests)
        #expect(applied.status == 0, "\(applied.stderr)")
        let created = try server.kubectl("create", "job", "hello", "--image=host", "--", "/bin/sh", "-c", "echo hello")
        #expect(created.status == 0, "\(created.stderr)")
        let connection = try server.connection()
        func job(_ name: String) -> JSON? { try? connection.request("GET", "/apis/batch/v1/namespaces/default/jobs/\(name)").json() }
        var mostActive: Int64 = 0
        var five: JSON? = nil
        #expect(waitUntil(seconds: 60) {
            five = job("five")
            mostActive = max(mostActive, five?[path: ["status", "active"]]?.intValue ?? 0)
            return JobStrategy.hasCondition(five ?? .null, "Complete")
        }, "five: \(String(describing: five?["status"]))")
        #expect(five?[path: ["status", "succeeded"]] == 5 && mostActive <= 2 && mostActive >= 1, "active at most \(mostActive)")
        let podsOfFive = (try connection.request("GET", "/api/v1/namespaces/default/pods?labelSelector=job-name%3Dfive").json()["items"]?.arrayValue ?? [])
        #expect(podsOfFive.count == 5 && podsOfFive.allSatisfy { $0[path: ["status", "phase"]] == "Succeeded" })
        // No two pods of five ran at the same time beyond the parallelism: check the containers' intervals.
        let intervals = podsOfFive.compactMap { pod -> (Int64, Int64)? in
            guard let state = pod[path: ["status", "containerStatuses"]]?.arrayValue?.first?[path: ["state", "terminated"]],
                  let start = state["startedAt"]?.stringValue.flatMap(Timestamp.parse), let end = state["finishedAt"]?.stringValue.flatMap(Timestamp.parse) else { return nil }
            return (start, end)
        }
        print("job five: \(podsOfFive.count) pods succeeded, at most \(mostActive) active in the samples")
        #expect(intervals.count == 5)

        let wait = try server.kubectl("wait", "--for=condition=complete", "job/hello", "--timeout=30s", timeoutSeconds: 40)
        #expect(wait.status == 0, "\(wait.stderr)")
        let listed = try server.kubectl("get", "jobs")
        #expect(listed.stdout.contains("five") && listed.stdout.contains("Complete") && listed.stdout.contains("5/5"), "\(listed.stdout)")

        var failing: JSON? = nil
        #expect(waitUntil(seconds: 40) {
            failing = job("failing")
            return JobStrategy.hasCondition(failing ?? .null, "Failed")
        }, "failing: \(String(describing: failing?["status"]))")
        let reason = (failing?[path: ["status", "conditions"]]?.arrayValue ?? []).first { $0["type"] == "Failed" }?["reason"]
        #expect(reason == "BackoffLimitExceeded" && failing?[path: ["status", "failed"]] == 2, "\(String(describing: failing?["status"]))")
        usleep(1_000_000)
        let failedPods = (try connection.request("GET", "/api/v1/namespaces/default/pods?labelSelector=job-name%3Dfailing").json()["items"]?.arrayValue ?? [])
        #expect(failedPods.count == 2, "backoffLimit 1: the first try and one retry, then no more pods")

        var logs = ""
        #expect(waitUntil(seconds: 30) {
            logs = (try? server.kubectl("logs", "-l", "job-name=indexed").stdout) ?? ""
            return logs.contains("index=0") && logs.contains("index=1") && logs.contains("index=2")
        }, "indexed logs: \(logs)")
        // Deleting a Job removes its pods.
        _ = try server.kubectl("delete", "job", "indexed")
        #expect(waitUntil(seconds: 20) {
            ((try? connection.request("GET", "/api/v1/namespaces/default/pods?labelSelector=job-name%3Dindexed").json()["items"]?.arrayValue) ?? [JSON.null]).isEmpty
        })
        // A Job whose template restarts Always is refused, naming the field.
        try #"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"bad"},"spec":{"template":{"spec":{"restartPolicy":"Always","containers":[{"name":"c","image":"i"}]}}}}"#
            .write(toFile: server.dataDirectory + "/bad.json", atomically: true, encoding: .utf8)
        let bad = try server.kubectl("create", "-f", server.dataDirectory + "/bad.json")
        #expect(bad.status != 0 && bad.stderr.contains("spec.template.spec.restartPolicy"), "\(bad.stderr)")
    }

    @Test("a CronJob every minute (kubectl create cronjob) runs a Job each minute and keeps only its history limit")
    func cronJob() throws {
        let timing = ProcessAgentTests.timing
        let server = try ServerProcess(extraArguments: timing, scheduler: true)
        defer { server.destroy() }
        let agent = try AgentProcess(server: server, name: "cron1", cpus: "4", timing: timing,
                                     extraArguments: ["--runtime", "process", "--data-dir", server.dataDirectory + "/agent"])
        defer { agent.kill9() }
        let created = try server.kubectl("create", "cronjob", "tick", "--image=host", "--schedule=* * * * *", "--", "/bin/sh", "-c", "echo tick")
        #expect(created.status == 0, "\(created.stderr)")
        #expect(try server.kubectl("patch", "cronjob", "tick", "-p", #"{"spec":{"successfulJobsHistoryLimit":1}}"#).status == 0)
        let connection = try server.connection()
        func jobs() -> [JSON] {
            ((try? connection.request("GET", "/apis/batch/v1/namespaces/default/jobs").json()["items"]?.arrayValue) ?? nil) ?? []
        }
        var names = Set<String>()
        var mostKept = 0
        let started = Date()
        // Two runs a minute apart: both Jobs seen, the first deleted once the second completed.
        #expect(waitUntil(seconds: 150) {
            let now = jobs()
            names.formUnion(now.map { ObjectMeta.name(of: $0) })
            mostKept = max(mostKept, now.filter { JobStrategy.hasCondition($0, "Complete") }.count)
            return names.count >= 2 && now.count == 1 && now.allSatisfy { JobStrategy.hasCondition($0, "Complete") }
        }, "jobs seen \(names.sorted()), now \(jobs().map { ObjectMeta.name(of: $0) })")
        print("cronjob: jobs \(names.sorted()) in \(String(format: "%.0f", Date().timeIntervalSince(started))) s; at most \(mostKept) complete kept at once")
        #expect(names.allSatisfy { $0.hasPrefix("tick-") })
        let suffixes = names.compactMap { Int64($0.dropFirst("tick-".count)) }.sorted()
        #expect(suffixes.count >= 2 && suffixes[1] - suffixes[0] == 1, "one Job per minute: \(suffixes)")
        let cronJob = try connection.request("GET", "/apis/batch/v1/namespaces/default/cronjobs/tick").json()
        #expect(cronJob[path: ["status", "lastScheduleTime"]] != nil && cronJob[path: ["status", "lastSuccessfulTime"]] != nil, "\(cronJob["status"] ?? .null)")
        let listed = try server.kubectl("get", "cronjobs")
        #expect(listed.stdout.contains("* * * * *") && listed.stdout.contains("tick"), "\(listed.stdout)")
    }
}
