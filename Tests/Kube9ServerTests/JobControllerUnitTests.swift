@testable import Kube9Controllers
import Kube9Model
import Testing

@Suite("job controller pieces")
struct JobControllerUnitTests {
    @Test("completedIndexes ranges; Indexed pods carry their index and JOB_COMPLETION_INDEX; names stay valid")
    func pieces() {
        #expect(JobController.ranges([]) == "")
        #expect(JobController.ranges([0, 1, 2, 4, 6, 7]) == "0-2,4,6-7")
        let job: JSON = ["apiVersion": "batch/v1", "kind": "Job", "metadata": ["name": .string(String(repeating: "j", count: 63)), "uid": "u"],
                         "spec": ["template": ["metadata": ["labels": ["a": "b"]], "spec": ["containers": [["name": "c", "image": "i"]]]]]]
        let pod = JobController.pod(from: job, index: 12)
        #expect(pod[path: ["metadata", "labels", JobStrategy.completionIndexKey]] == "12")
        #expect(pod[path: ["metadata", "annotations", JobStrategy.completionIndexKey]] == "12")
        #expect(pod[path: ["spec", "containers"]]?.arrayValue?.first?["env"]?.arrayValue?.first?["name"] == "JOB_COMPLETION_INDEX")
        #expect((pod[path: ["metadata", "generateName"]]?.stringValue?.count ?? 99) <= 58)
        #expect(pod[path: ["metadata", "ownerReferences"]]?.arrayValue?.first?["controller"] == true)
    }
}
