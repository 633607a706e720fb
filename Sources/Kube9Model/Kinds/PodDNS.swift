/// A pod's DNS settings (`spec.dnsPolicy`, `spec.dnsConfig`): the rules the API server checks
/// and the resolv.conf the node gives the pod, as the kubelet computes it.
///
/// - ClusterFirst (the default) and ClusterFirstWithHostNet: the cluster DNS, the search path
///   `NS.svc.DOMAIN svc.DOMAIN DOMAIN`, `ndots:5`; without a cluster DNS, the node's settings.
/// - Default: the node's resolv.conf (the runtime's own).
/// - None: only what `dnsConfig` says (it must name a nameserver).
///
/// `dnsConfig` is merged on top of the policy's settings: nameservers and searches appended
/// (duplicates dropped), options replaced by name.
public struct PodDNS: Sendable, Equatable {
    public var nameservers: [String]
    public var searches: [String]
    /// "name" or "name:value", as resolv.conf's `options` line.
    public var options: [String]

    public init(nameservers: [String], searches: [String], options: [String]) {
        self.nameservers = nameservers
        self.searches = searches
        self.options = options
    }

    public static let policies = ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]
    public static let maximumNameservers = 3
    public static let maximumSearches = 32
    public static let maximumSearchListCharacters = 2048

    /// Adds the causes of a bad `dnsPolicy` or `dnsConfig` in `spec` (field types are checked elsewhere).
    public static func validate(_ spec: JSON, into causes: inout [FieldCause]) {
        if let policy = spec["dnsPolicy"], !policies.contains(policy.stringValue ?? "") {
            causes.append(.notSupported("spec.dnsPolicy", policy, supported: policies))
        }
        let config = spec["dnsConfig"]
        let nameservers = config?["nameservers"]?.arrayValue ?? []
        if spec["dnsPolicy"]?.stringValue == "None", nameservers.isEmpty {
            causes.append(.required("spec.dnsConfig.nameservers", "must provide at least one DNS nameserver when dnsPolicy is None"))
        }
        if nameservers.count > maximumNameservers {
            causes.append(.invalid("spec.dnsConfig.nameservers", .array(nameservers), "must not have more than \(maximumNameservers) nameservers"))
        }
        for (index, server) in nameservers.enumerated() where server.stringValue.flatMap(IPv4Address.init) == nil {
            causes.append(.invalid("spec.dnsConfig.nameservers[\(index)]", server, "must be a valid IPv4 address"))
        }
        let searches = config?["searches"]?.arrayValue ?? []
        if searches.count > maximumSearches {
            causes.append(.invalid("spec.dnsConfig.searches", .array(searches), "must not have more than \(maximumSearches) search paths"))
        }
        if searches.compactMap(\.stringValue).joined(separator: " ").utf8.count > maximumSearchListCharacters {
            causes.append(.invalid("spec.dnsConfig.searches", nil, "must not have more than \(maximumSearchListCharacters) characters (including spaces) in the search list"))
        }
        for (index, search) in searches.enumerated() {
            let name = search.stringValue.map { $0.hasSuffix(".") ? String($0.dropLast()) : $0 } ?? ""
            if let error = NameRules.dns1123SubdomainError(name) { causes.append(.invalid("spec.dnsConfig.searches[\(index)]", search, error)) }
        }
        for (index, option) in (config?["options"]?.arrayValue ?? []).enumerated() {
            let name = option["name"]?.stringValue ?? ""
            if name.isEmpty { causes.append(.required("spec.dnsConfig.options[\(index)].name")) }
            if (name + (option["value"]?.stringValue ?? "")).contains(where: { $0.isWhitespace }) {
                causes.append(.invalid("spec.dnsConfig.options[\(index)]", option, "must not contain whitespace"))
            }
        }
    }

    /// The settings of a resolv.conf text: `nameserver`, `search` (or `domain`) and `options`
    /// lines, as the resolver reads them (the last search line wins; comments ignored).
    public static func parse(resolvConf text: String) -> PodDNS {
        var settings = PodDNS(nameservers: [], searches: [], options: [])
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let keyword = fields.first, !keyword.hasPrefix("#"), !keyword.hasPrefix(";") else { continue }
            switch keyword {
            case "nameserver" where fields.count >= 2: settings.nameservers.append(fields[1])
            case "search", "domain": settings.searches = Array(fields.dropFirst())
            case "options": settings.options += fields.dropFirst()
            default: continue
            }
        }
        return settings
    }

    /// The settings for a pod of `namespace` with `spec`, given the node's cluster DNS address
    /// (nil when it runs none), the cluster domain and the node's own settings (its resolv.conf,
    /// the base of `Default`). nil means the node's settings unchanged.
    public static func resolve(spec: JSON, namespace: String, clusterDNS: String?, domain: String, node: PodDNS) -> PodDNS? {
        var base: PodDNS?
        switch spec["dnsPolicy"]?.stringValue ?? "ClusterFirst" {
        case "None":
            base = PodDNS(nameservers: [], searches: [], options: [])
        case "Default":
            base = nil
        default:
            if let clusterDNS {
                base = PodDNS(nameservers: [clusterDNS], searches: ["\(namespace).svc.\(domain)", "svc.\(domain)", domain], options: ["ndots:5"])
            }
        }
        guard let config = spec["dnsConfig"], config.objectValue != nil else { return base }
        var merged = base ?? node
        for server in config["nameservers"]?.arrayValue?.compactMap(\.stringValue) ?? [] where !merged.nameservers.contains(server) {
            merged.nameservers.append(server)
        }
        merged.nameservers = Array(merged.nameservers.prefix(maximumNameservers))
        for search in config["searches"]?.arrayValue?.compactMap(\.stringValue) ?? [] where !merged.searches.contains(search) {
            merged.searches.append(search)
        }
        merged.searches = Array(merged.searches.prefix(maximumSearches))
        for option in config["options"]?.arrayValue ?? [] {
            guard let name = option["name"]?.stringValue, !name.isEmpty else { continue }
            merged.options.removeAll { $0 == name || $0.hasPrefix(name + ":") }
            merged.options.append(option["value"]?.stringValue.map { "\(name):\($0)" } ?? name)
        }
        return merged
    }
}
