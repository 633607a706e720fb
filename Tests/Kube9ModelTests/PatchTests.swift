import Kube9Model
import Testing

@Suite("patches")
struct PatchTests {
    let podKeys = PodStrategy().mergeKeys

    @Test("JSON merge patch: objects merge, null deletes, arrays replace")
    func mergePatch() throws {
        let target = try JSON.parse(#"{"a":{"b":1,"c":2},"l":[1,2],"k":"v"}"#)
        let patched = Patcher.mergePatch(target, try JSON.parse(#"{"a":{"b":null,"d":3},"l":[3],"k":"w"}"#))
        #expect(patched == (try JSON.parse(#"{"a":{"c":2,"d":3},"l":[3],"k":"w"}"#)))
    }

    @Test("JSON patch operations")
    func jsonPatch() throws {
        let target = try JSON.parse(#"{"a":[1,2],"b":{"c":"x"}}"#)
        let patch = try JSON.parse(#"[{"op":"add","path":"/a/-","value":3},{"op":"replace","path":"/b/c","value":"y"},{"op":"copy","from":"/b/c","path":"/d"},{"op":"move","from":"/a/0","path":"/e"},{"op":"remove","path":"/b"},{"op":"test","path":"/d","value":"y"},{"op":"add","path":"/f~1g","value":0}]"#)
        let patched = try Patcher.jsonPatch(target, patch)
        #expect(patched == (try JSON.parse(#"{"a":[2,3],"d":"y","e":1,"f/g":0}"#)))
        #expect(throws: APIError.self) { try Patcher.jsonPatch(target, try JSON.parse(#"[{"op":"test","path":"/a/0","value":9}]"#)) }
        #expect(throws: APIError.self) { try Patcher.jsonPatch(target, try JSON.parse(#"[{"op":"remove","path":"/zz"}]"#)) }
    }

    /// The body kubectl 1.32 sent after changing an image, adding a label and a port (kubectl-wire.md §3.2).
    @Test("strategic merge: kubectl's apply patch with $setElementOrder")
    func kubectlApplyPatch() throws {
        let live = try JSON.parse(#"{"metadata":{"name":"ap1","labels":{"app":"ap1"}},"spec":{"containers":[{"name":"c","image":"busybox","ports":[{"containerPort":80,"protocol":"TCP"}],"imagePullPolicy":"Always"}]}}"#)
        let patch = try JSON.parse(#"{"metadata":{"labels":{"tier":"x"}},"spec":{"$setElementOrder/containers":[{"name":"c"}],"containers":[{"$setElementOrder/ports":[{"containerPort":80},{"containerPort":81}],"image":"busybox:1.36","name":"c","ports":[{"containerPort":81}]}]}}"#)
        let patched = try Patcher.strategicMerge(live, patch, mergeKeys: podKeys)
        #expect(patched[path: ["metadata", "labels"]] == ["app": "ap1", "tier": "x"])
        let container = patched[path: ["spec", "containers"]]?.arrayValue?.first
        #expect(container?["image"] == "busybox:1.36")
        #expect(container?["imagePullPolicy"] == "Always")
        #expect(container?["ports"] == [["containerPort": 80, "protocol": "TCP"], ["containerPort": 81]])
    }

    @Test("strategic merge: revert with null and $patch: delete")
    func kubectlRevertPatch() throws {
        let live = try JSON.parse(#"{"metadata":{"labels":{"app":"a","tier":"x"}},"spec":{"containers":[{"name":"c","image":"busybox:1.36","ports":[{"containerPort":80},{"containerPort":81}]}]}}"#)
        let patch = try JSON.parse(#"{"metadata":{"labels":{"tier":null}},"spec":{"$setElementOrder/containers":[{"name":"c"}],"containers":[{"$setElementOrder/ports":[{"containerPort":80}],"image":"busybox","name":"c","ports":[{"containerPort":80},{"$patch":"delete","containerPort":81}]}]}}"#)
        let patched = try Patcher.strategicMerge(live, patch, mergeKeys: podKeys)
        #expect(patched[path: ["metadata", "labels"]] == ["app": "a"])
        #expect(patched[path: ["spec", "containers"]]?.arrayValue?.first?["ports"] == [["containerPort": 80]])
    }

    @Test("strategic merge: $retainKeys, $patch: replace, primitive set lists, unkeyed lists replace")
    func directives() throws {
        let live = try JSON.parse(#"{"metadata":{"finalizers":["a"]},"spec":{"strategy":{"type":"Recreate","rollingUpdate":{"maxSurge":1}},"tolerations":[{"key":"x"}],"nodeSelector":{"a":"1","b":"2"}}}"#)
        let patch = try JSON.parse(#"{"metadata":{"finalizers":["b"]},"spec":{"strategy":{"$retainKeys":["type"],"type":"RollingUpdate"},"tolerations":[{"key":"y"}],"nodeSelector":{"$patch":"replace","c":"3"}}}"#)
        let patched = try Patcher.strategicMerge(live, patch, mergeKeys: podKeys)
        #expect(patched[path: ["spec", "strategy"]] == ["type": "RollingUpdate"])
        #expect(patched[path: ["metadata", "finalizers"]] == ["a", "b"])
        #expect(patched[path: ["spec", "tolerations"]] == [["key": "y"]])
        #expect(patched[path: ["spec", "nodeSelector"]] == ["c": "3"])
        let removed = try Patcher.strategicMerge(patched, try JSON.parse(#"{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}"#), mergeKeys: podKeys)
        #expect(removed[path: ["metadata", "finalizers"]] == ["b"])
        #expect(throws: APIError.self) { try Patcher.strategicMerge(live, try JSON.parse(#"{"$bogus":1}"#), mergeKeys: podKeys) }
    }
}
