import Kube9Model

/// Discovery documents, legacy (`APIVersions`, `APIGroupList`, `APIResourceList`) and
/// aggregated (`apidiscovery.k8s.io` v2 / v2beta1), built once from the catalog.
struct Discovery: Sendable {
    let catalog: ResourceCatalog

    static let aggregatedV2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    static let aggregatedV2Beta1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"

    /// The aggregated discovery version the Accept header asks for, if any.
    static func aggregatedVersion(accept: String) -> String? {
        let compact = accept.replacingOccurrences(of: " ", with: "")
        for entry in compact.split(separator: ",") where entry.contains("g=apidiscovery.k8s.io") && entry.contains("as=APIGroupDiscoveryList") {
            if entry.contains("v=v2beta1") { return "v2beta1" }
            if entry.contains("v=v2") { return "v2" }
        }
        return nil
    }

    func legacyAPIVersions(serverAddress: String) -> JSON {
        ["kind": "APIVersions", "versions": ["v1"],
         "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string(serverAddress)]]]
    }

    var groups: [String] {
        var names: [String] = []
        for (group, _) in catalog.groupVersions where !group.isEmpty && !names.contains(group) { names.append(group) }
        return names
    }

    func versions(of group: String) -> [String] {
        catalog.groupVersions.filter { $0.group == group }.map(\.version)
    }

    func legacyGroup(_ group: String) -> JSON {
        let versions = versions(of: group)
        return [
            "name": .string(group),
            "versions": .array(versions.map { ["groupVersion": .string("\(group)/\($0)"), "version": .string($0)] }),
            "preferredVersion": ["groupVersion": .string("\(group)/\(versions[0])"), "version": .string(versions[0])],
        ]
    }

    var legacyGroupList: JSON {
        ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groups.map(legacyGroup))]
    }

    func legacyGroupDocument(_ group: String) -> JSON {
        var document = legacyGroup(group)
        document["kind"] = "APIGroup"
        document["apiVersion"] = "v1"
        return document
    }

    func resourceList(group: String, version: String) -> JSON {
        var resources: [JSON] = []
        for strategy in catalog.strategies where strategy.type.group == group && strategy.type.version == version {
            let type = strategy.type
            var entry: JSON = [
                "name": .string(type.resource), "singularName": .string(type.singular), "namespaced": .bool(type.namespaced),
                "kind": .string(type.kind), "verbs": .array(type.verbs.map { .string($0) }),
            ]
            if !type.shortNames.isEmpty { entry["shortNames"] = .array(type.shortNames.map { .string($0) }) }
            if !type.categories.isEmpty { entry["categories"] = .array(type.categories.map { .string($0) }) }
            resources.append(entry)
            for subresource in type.subresources {
                let (kind, verbs) = Self.subresourceShape(subresource, type: type)
                var sub: JSON = ["name": .string("\(type.resource)/\(subresource)"), "singularName": "", "namespaced": .bool(type.namespaced),
                                 "kind": .string(kind), "verbs": .array(verbs.map { .string($0) })]
                if subresource == "binding" { sub["kind"] = "Binding" }
                if subresource == "scale" { sub["group"] = "autoscaling"; sub["version"] = "v1" }
                resources.append(sub)
            }
        }
        let groupVersion = group.isEmpty ? version : "\(group)/\(version)"
        return ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(groupVersion), "resources": .array(resources)]
    }

    static func subresourceShape(_ subresource: String, type: ResourceType) -> (kind: String, verbs: [String]) {
        switch subresource {
        case "status": return (type.kind, ["get", "patch", "update"])
        case "binding": return ("Binding", ["create"])
        case "scale": return ("Scale", ["get", "patch", "update"])
        case "log": return (type.kind, ["get"])
        default: return (type.kind, ["get"])
        }
    }

    /// The aggregated document for the core group (`/api`) or all named groups (`/apis`).
    func aggregated(core: Bool, version discoveryVersion: String) -> JSON {
        let groupNames = core ? [""] : groups
        var items: [JSON] = []
        for group in groupNames {
            var versionEntries: [JSON] = []
            for version in versions(of: group) {
                var resources: [JSON] = []
                for strategy in catalog.strategies where strategy.type.group == group && strategy.type.version == version {
                    let type = strategy.type
                    var entry: JSON = [
                        "resource": .string(type.resource),
                        "responseKind": ["group": .string(group), "version": .string(version), "kind": .string(type.kind)],
                        "scope": .string(type.namespaced ? "Namespaced" : "Cluster"),
                        "singularResource": .string(type.singular),
                        "verbs": .array(type.verbs.map { .string($0) }),
                    ]
                    if !type.shortNames.isEmpty { entry["shortNames"] = .array(type.shortNames.map { .string($0) }) }
                    if !type.categories.isEmpty { entry["categories"] = .array(type.categories.map { .string($0) }) }
                    if !type.subresources.isEmpty {
                        entry["subresources"] = .array(type.subresources.map { subresource in
                            let (kind, verbs) = Self.subresourceShape(subresource, type: type)
                            return ["subresource": .string(subresource),
                                    "responseKind": subresource == "scale" ? ["group": "autoscaling", "version": "v1", "kind": "Scale"]
                                        : ["group": .string(group), "version": .string(version), "kind": .string(kind)],
                                    "verbs": .array(verbs.map { .string($0) })]
                        })
                    }
                    resources.append(entry)
                }
                versionEntries.append(["version": .string(version), "resources": .array(resources), "freshness": "Current"])
            }
            items.append(["metadata": ["name": .string(group), "creationTimestamp": nil], "versions": .array(versionEntries)])
        }
        return ["kind": "APIGroupDiscoveryList", "apiVersion": .string("apidiscovery.k8s.io/\(discoveryVersion)"),
                "metadata": .emptyObject, "items": .array(items)]
    }
}
