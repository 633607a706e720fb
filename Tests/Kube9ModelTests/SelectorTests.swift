import Kube9Model
import Testing

@Suite("label and field selectors")
struct SelectorTests {
    let labels = ["app": "web", "tier": "front", "env": "prod"]

    @Test("each operator", arguments: [
        ("app=web", true), ("app==web", true), ("app!=web", false), ("app in (web,api)", true), ("app notin (web)", false),
        ("tier", true), ("!tier", false), ("missing", false), ("!missing", true), ("app=web,env=prod", true), ("app=web,env=dev", false),
        ("missing!=x", true), ("app in (a, b)", false), ("", true),
    ])
    func matches(_ text: String, _ expected: Bool) throws {
        #expect(try LabelSelector.parse(text).matches(labels) == expected)
    }

    @Test("syntax errors are 400s", arguments: ["app in (", "=x", "app in web", "a/b/c=x", "app=-x", "app=web,,"])
    func errors(_ text: String) {
        #expect(throws: APIError.self) { try LabelSelector.parse(text) }
    }

    @Test("field selectors compare strings and respect the supported list")
    func fields() throws {
        let pod: JSON = ["metadata": ["name": "a"], "spec": ["nodeName": "n1"], "status": ["phase": "Pending"]]
        let supported: Set<String> = ["metadata.name", "spec.nodeName", "status.phase"]
        #expect(try FieldSelector.parse("status.phase=Pending", supportedFields: supported, kind: "Pod").matches(object: pod))
        #expect(try !FieldSelector.parse("spec.nodeName!=n1", supportedFields: supported, kind: "Pod").matches(object: pod))
        #expect(try FieldSelector.parse("spec.nodeName=n1,metadata.name==a", supportedFields: supported, kind: "Pod").matches(object: pod))
        #expect(try FieldSelector.parse("spec.nodeName=", supportedFields: supported, kind: "Pod").matches(object: ["spec": [:]]))
        #expect(throws: APIError.self) { try FieldSelector.parse("spec.other=1", supportedFields: supported, kind: "Pod") }
        #expect(throws: APIError.self) { try FieldSelector.parse("novalue", supportedFields: supported, kind: "Pod") }
    }
}
