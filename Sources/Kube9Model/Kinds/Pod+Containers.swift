/// Pods: the checks of one container and of its probes (PodStrategy.validate calls them).
extension PodStrategy {
    static func validateContainer(_ container: JSON, field: String, names: inout Set<String>, into causes: inout [FieldCause]) {
        guard case .object = container else {
            causes.append(.typeInvalid(field, expected: "object", got: container))
            return
        }
        if let name = container["name"]?.stringValue, !name.isEmpty {
            if let error = NameRules.dns1123LabelError(name) { causes.append(.invalid("\(field).name", .string(name), error)) }
            if !names.insert(name).inserted { causes.append(.duplicate("\(field).name", .string(name))) }
        } else {
            causes.append(.required("\(field).name"))
        }
        if let image = container["image"], let text = image.stringValue {
            if text.trimmingSpaces.isEmpty || text != text.trimmingSpaces {
                causes.append(text.isEmpty ? .required("\(field).image") : .invalid("\(field).image", image, "must not have leading or trailing whitespace"))
            }
        } else {
            causes.append(container["image"].map { .typeInvalid("\(field).image", expected: "string", got: $0) } ?? .required("\(field).image"))
        }
        for list in ["command", "args"] {
            if let value = container[list], !value.isNull, value.arrayValue?.allSatisfy({ $0.stringValue != nil }) != true {
                causes.append(.typeInvalid("\(field).\(list)", expected: "array of strings", got: value))
            }
        }
        if let policy = container["imagePullPolicy"], !["Always", "IfNotPresent", "Never"].contains(policy.stringValue ?? "") {
            causes.append(.notSupported("\(field).imagePullPolicy", policy, supported: ["Always", "IfNotPresent", "Never"]))
        }
        if let ports = container["ports"], !ports.isNull {
            if let list = ports.arrayValue {
                var seen = Set<String>()
                for (index, port) in list.enumerated() {
                    let portField = "\(field).ports[\(index)]"
                    guard let number = port["containerPort"]?.intValue else {
                        causes.append(port["containerPort"].map { .typeInvalid("\(portField).containerPort", expected: "integer", got: $0) }
                                      ?? .required("\(portField).containerPort"))
                        continue
                    }
                    if !(1...65535).contains(number) {
                        causes.append(.invalid("\(portField).containerPort", .int(number), "must be between 1 and 65535, inclusive"))
                    }
                    if let host = port["hostPort"]?.intValue, host != 0, !(1...65535).contains(host) {
                        causes.append(.invalid("\(portField).hostPort", .int(host), "must be between 1 and 65535, inclusive"))
                    }
                    let proto = port["protocol"]?.stringValue ?? "TCP"
                    if !["TCP", "UDP", "SCTP"].contains(proto) {
                        causes.append(.notSupported("\(portField).protocol", .string(proto), supported: ["SCTP", "TCP", "UDP"]))
                    }
                    if !seen.insert("\(number)/\(proto)").inserted {
                        causes.append(.duplicate("\(portField)", ["containerPort": .int(number), "protocol": .string(proto)]))
                    }
                    if let name = port["name"]?.stringValue, !name.isEmpty, name.utf8.count > 15 || NameRules.dns1123LabelError(name) != nil {
                        causes.append(.invalid("\(portField).name", .string(name), "must be no more than 15 characters and a lowercase RFC 1123 label"))
                    }
                }
            } else {
                causes.append(.typeInvalid("\(field).ports", expected: "array", got: ports))
            }
        }
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            Self.validateProbe(container[probe], field: "\(field).\(probe)", into: &causes)
        }
        PodEnvironment.validate(container, field: field, into: &causes)
        if let resources = container["resources"], !resources.isNull {
            for part in ["requests", "limits"] {
                guard let map = resources[part], !map.isNull else { continue }
                guard let members = map.objectValue else {
                    causes.append(.typeInvalid("\(field).resources.\(part)", expected: "map of quantities", got: map))
                    continue
                }
                for (name, value) in members {
                    if case .failure(let problem) = Quantity.checked(value) {
                        causes.append(.invalid("\(field).resources.\(part)[\(name)]", value, problem.message))
                    }
                }
            }
            if let requests = resources["requests"]?.objectValue, let limits = resources["limits"]?.objectValue {
                for (name, limitValue) in limits {
                    if let limit = Quantity.from(limitValue), let request = Quantity.from(requests[name]), request > limit {
                        causes.append(.invalid("\(field).resources.requests[\(name)]", requests[name], "must be less than or equal to \(name) limit of \(limit)"))
                    }
                }
            }
        }
    }

    /// A probe: exactly one handler with a valid port, and timings in Kubernetes' int32 ranges.
    static func validateProbe(_ probe: JSON?, field: String, into causes: inout [FieldCause]) {
        guard let probe, !probe.isNull else { return }
        guard case .object = probe else {
            causes.append(.typeInvalid(field, expected: "object", got: probe))
            return
        }
        let int32 = Int64(Int32.max)
        CommonSchemas.checkInteger(probe["initialDelaySeconds"], "\(field).initialDelaySeconds", in: 0...int32, into: &causes)
        CommonSchemas.checkInteger(probe["periodSeconds"], "\(field).periodSeconds", in: 1...int32, into: &causes)
        CommonSchemas.checkInteger(probe["timeoutSeconds"], "\(field).timeoutSeconds", in: 1...int32, into: &causes)
        CommonSchemas.checkInteger(probe["successThreshold"], "\(field).successThreshold", in: 1...int32, into: &causes)
        CommonSchemas.checkInteger(probe["failureThreshold"], "\(field).failureThreshold", in: 1...int32, into: &causes)
        CommonSchemas.checkInteger(probe["terminationGracePeriodSeconds"], "\(field).terminationGracePeriodSeconds", in: 1...maximumGracePeriodSeconds, into: &causes)
        let handlers = ["exec", "httpGet", "tcpSocket", "grpc"].filter { probe[$0] != nil && probe[$0]?.isNull == false }
        if handlers.count != 1 {
            causes.append(handlers.isEmpty ? .required(field, "must specify a handler type")
                          : .forbidden("\(field).\(handlers[1])", "may not specify more than 1 handler type"))
        }
        for handler in ["httpGet", "tcpSocket"] {
            guard let action = probe[handler], !action.isNull else { continue }
            guard case .object = action else {
                causes.append(.typeInvalid("\(field).\(handler)", expected: "object", got: action))
                continue
            }
            switch action["port"] {
            case .int(let number)?:
                if !(1...65535).contains(number) { causes.append(.invalid("\(field).\(handler).port", .int(number), "must be between 1 and 65535, inclusive")) }
            case .string(let name)?:
                if name.isEmpty || name.utf8.count > 15 || NameRules.dns1123LabelError(name) != nil {
                    causes.append(.invalid("\(field).\(handler).port", .string(name), "must contain at least one letter (a-z) and be no more than 15 characters (an IANA service name)"))
                }
            case let other?:
                causes.append(.typeInvalid("\(field).\(handler).port", expected: "integer or string", got: other))
            case nil:
                causes.append(.required("\(field).\(handler).port"))
            }
        }
        if let command = probe[path: ["exec", "command"]], !command.isNull, command.arrayValue?.allSatisfy({ $0.stringValue != nil }) != true {
            causes.append(.typeInvalid("\(field).exec.command", expected: "array of strings", got: command))
        }
    }
}
