import Kube9Model
import Testing

@Suite("JSON documents")
struct JSONTests {
    @Test("round trip keeps key order, integers and floats")
    func roundTrip() throws {
        let text = #"{"b":1,"a":[true,false,null],"c":{"x":1.5,"y":-2,"z":"q\"\n\u00e9"},"big":9007199254740993}"#
        let value = try JSON.parse(text)
        #expect(value["b"] == .int(1))
        #expect(value["c"]?["x"] == .double(1.5))
        #expect(value["big"] == .int(9_007_199_254_740_993))
        #expect(value.objectValue.map { Array($0.keys) } == ["b", "a", "c", "big"])
        #expect(try JSON.parse(value.serialized()) == value)
        #expect(value["c"]?["z"]?.stringValue == "q\"\né")
    }

    @Test("surrogate pairs decode to one scalar")
    func surrogates() throws {
        #expect(try JSON.parse(#""\ud83d\ude00""#).stringValue == "😀")
    }

    @Test("malformed input is rejected with an offset", arguments: [
        "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "tru", "\"abc", "{\"a\":1}x", "{\"a\":1,\"a\":2}", "\"\u{01}\"", "[1 2]", "",
    ])
    func malformed(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSON.parse(text) }
    }

    @Test("nesting past the limit is refused, not a crash")
    func deepNesting() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        do {
            _ = try JSON.parse(deep)
            Issue.record("expected a depth error")
        } catch {
            #expect(error.isTooDeep)
        }
        let fine = String(repeating: "[", count: JSON.maximumDepth) + String(repeating: "]", count: JSON.maximumDepth)
        #expect(throws: Never.self) { try JSON.parse(fine) }
    }

    @Test("path subscripts create intermediate objects")
    func pathSet() {
        var value = JSON.emptyObject
        value[path: ["metadata", "labels", "app"]] = "web"
        #expect(value.text == #"{"metadata":{"labels":{"app":"web"}}}"#)
        value[path: ["metadata", "labels", "app"]] = nil
        #expect(value.text == #"{"metadata":{"labels":{}}}"#)
    }
}

@Suite("names, times and quantities")
struct NameTests {
    @Test("DNS-1123 labels and subdomains")
    func dnsNames() {
        #expect(NameRules.dns1123LabelError("web-1") == nil)
        #expect(NameRules.dns1123LabelError("Web") != nil)
        #expect(NameRules.dns1123LabelError("-web") != nil)
        #expect(NameRules.dns1123LabelError(String(repeating: "a", count: 64)) != nil)
        #expect(NameRules.dns1123SubdomainError("a.b-c.d") == nil)
        #expect(NameRules.dns1123SubdomainError("a..b") != nil)
        #expect(NameRules.dns1123SubdomainError("a_b") != nil)
    }

    @Test("label keys and values")
    func labels() {
        #expect(NameRules.qualifiedNameError("kubernetes.io/hostname") == nil)
        #expect(NameRules.qualifiedNameError("node-role.kubernetes.io/worker") == nil)
        #expect(NameRules.qualifiedNameError("a/b/c") != nil)
        #expect(NameRules.qualifiedNameError("/x") != nil)
        #expect(NameRules.labelValueError("") == nil)
        #expect(NameRules.labelValueError("v1.2_x") == nil)
        #expect(NameRules.labelValueError("-x") != nil)
    }

    @Test("generated names and uids have the Kubernetes shape")
    func generated() {
        #expect(NameRules.randomSuffix().count == 5)
        let uid = NameRules.newUID()
        #expect(uid.count == 36)
        #expect(uid.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
        #expect(uid != NameRules.newUID())
    }

    @Test("RFC 3339 timestamps round trip; ages print like kubectl")
    func timestamps() {
        #expect(Timestamp.format(0) == "1970-01-01T00:00:00Z")
        #expect(Timestamp.parse("2026-11-27T08:10:31Z") == Timestamp.parse("2026-11-27T09:10:31+01:00"))
        #expect(Timestamp.parse(Timestamp.format(1_800_000_000)) == 1_800_000_000)
        #expect(Timestamp.parse("2026-11-27T08:10:31.123456Z") == Timestamp.parse("2026-11-27T08:10:31Z"))
        #expect(Timestamp.parse("yesterday") == nil)
        #expect(Timestamp.humanDuration(seconds: 5) == "5s")
        #expect(Timestamp.humanDuration(seconds: 200) == "3m20s")
        #expect(Timestamp.humanDuration(seconds: 3600 * 4 + 60 * 5) == "4h5m")
        #expect(Timestamp.humanDuration(seconds: 86400 * 3) == "3d")
    }

    @Test("quantities", arguments: [
        ("250m", Int64(250)), ("2", 2000), ("1.5", 1500), ("1Ki", 1_024_000), ("512Mi", 536_870_912_000), ("1k", 1_000_000), ("1e3", 1_000_000),
    ])
    func quantities(_ text: String, _ milli: Int64) {
        #expect(Quantity.parse(text)?.milliValue == milli)
    }

    @Test("bad quantities are refused", arguments: ["", "lots", "1x", "-1", "Mi"])
    func badQuantities(_ text: String) {
        #expect(Quantity.parse(text) == nil)
    }
}
