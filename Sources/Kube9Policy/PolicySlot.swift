import Kube9Lua
import Kube9Model

/// Where a policy plugs in. Each slot names the hooks a module must (and may) define and what
/// happens when a call fails.
public enum PolicySlot: String, Sendable, CaseIterable, Codable {
    case scheduler
    case loadbalancer
    case autoscaler
    case nodeAutoscaler = "node-autoscaler"
    case admission
    case authorizer
    case crd

    /// Hooks every module in this slot must define.
    public var requiredHooks: [String] {
        switch self {
        case .scheduler: return ["filter", "score"]
        case .loadbalancer: return ["pick"]
        case .autoscaler: return ["desired_replicas"]
        case .nodeAutoscaler: return ["decide"]
        case .admission: return []
        case .authorizer: return ["authorize"]
        case .crd: return []
        }
    }

    /// Hooks a module may add.
    public var optionalHooks: [String] {
        switch self {
        case .scheduler: return ["normalize", "select"]
        case .admission: return ["mutate", "validate"]
        case .crd: return ["validate", "default", "reconcile"]
        default: return []
        }
    }

    /// For slots whose hooks are all optional: at least one of these must exist.
    public var atLeastOneOf: [String] {
        switch self {
        case .admission: return ["mutate", "validate"]
        case .crd: return ["validate", "default", "reconcile"]
        default: return []
        }
    }

    /// What the caller does when a call fails (error, budget, bad return value).
    public var failurePolicy: FailurePolicy {
        switch self {
        case .admission, .authorizer: return .failClosed
        case .scheduler: return .leavePending
        case .loadbalancer: return .roundRobin
        case .autoscaler, .nodeAutoscaler: return .keepCurrent
        case .crd: return .failClosed
        }
    }

    /// Default per-call limits for the slot.
    public var defaultBudget: PolicyBudget {
        switch self {
        case .scheduler: return PolicyBudget(instructions: 2_000_000, timeoutMilliseconds: 500, memoryBytes: 64 << 20)
        case .loadbalancer: return PolicyBudget(instructions: 100_000, timeoutMilliseconds: 20, memoryBytes: 16 << 20)
        default: return PolicyBudget(instructions: 1_000_000, timeoutMilliseconds: 200, memoryBytes: 32 << 20)
        }
    }
}

/// What a slot's caller does when a policy call fails.
public enum FailurePolicy: String, Sendable {
    /// Deny the request (admission, authorizer): a broken policy never lets something through.
    case failClosed = "FailClosed"
    /// Leave the pod Pending with the error as the reason, and retry later (scheduler).
    case leavePending = "LeavePending"
    /// Pick the next backend in turn (load balancer).
    case roundRobin = "RoundRobin"
    /// Keep the current replica or node count (autoscalers).
    case keepCurrent = "KeepCurrent"
}

/// Per-call limits of a policy.
public struct PolicyBudget: Sendable, Equatable, Codable {
    public var instructions: Int64
    public var timeoutMilliseconds: Int64
    public var memoryBytes: Int

    public init(instructions: Int64, timeoutMilliseconds: Int64, memoryBytes: Int) {
        self.instructions = instructions
        self.timeoutMilliseconds = timeoutMilliseconds
        self.memoryBytes = memoryBytes
    }

    var callLimits: LuaCallLimits {
        LuaCallLimits(instructions: instructions, timeoutSeconds: Double(timeoutMilliseconds) / 1000)
    }

    /// The longest a policy's top-level chunk may run when it is loaded: a module definition
    /// has no reason to take long, and loads run at admission, while a client waits.
    public static let loadTimeoutMilliseconds: Int64 = 1000

    /// Limits of the top-level chunk: the policy's budget, with the time capped at `loadTimeoutMilliseconds`.
    var loadLimits: LuaCallLimits {
        LuaCallLimits(instructions: instructions, timeoutSeconds: Double(min(timeoutMilliseconds, Self.loadTimeoutMilliseconds)) / 1000)
    }

    /// This budget with each field brought into `PolicyStrategy.budgetBounds`.
    public var bounded: PolicyBudget {
        func clamp(_ value: Int64, _ field: String) -> Int64 {
            guard let bound = PolicyStrategy.budgetBounds.first(where: { $0.field == field }) else { return value }
            return min(max(value, bound.minimum), bound.maximum)
        }
        return PolicyBudget(instructions: clamp(instructions, "instructions"),
                            timeoutMilliseconds: clamp(timeoutMilliseconds, "timeoutMilliseconds"),
                            memoryBytes: Int(clamp(Int64(memoryBytes), "memoryBytes")))
    }
}

/// A policy's source and settings, before it is loaded.
public struct PolicySource: Sendable, Equatable {
    public var slot: PolicySlot
    /// The policy's name within the slot ("default", "best-fit").
    public var name: String
    public var source: String
    /// How errors name the chunk: a file path, or "policy/<slot>.<name>".
    public var chunkName: String
    public var budget: PolicyBudget
    /// A version number that rises with every change (the Policy object's generation; 0 for files).
    public var version: Int64
    /// "builtin" for files under policies/, "object" for Policy objects.
    public var origin: String

    public init(slot: PolicySlot, name: String, source: String, chunkName: String, budget: PolicyBudget? = nil, version: Int64 = 0, origin: String = "builtin") {
        self.slot = slot
        self.name = name
        self.source = source
        self.chunkName = chunkName
        self.budget = budget ?? slot.defaultBudget
        self.version = version
        self.origin = origin
    }
}

/// Why a policy could not load or a call failed.
public struct PolicyError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The module does not compile or does not run.
        case load
        /// The module table is malformed: wrong api level, missing hook, missing name.
        case contract
        /// A hook raised an error.
        case runtime
        /// A hook exceeded its instruction budget, deadline or memory cap.
        case killed
        /// No policy of that slot and name is installed.
        case missing
    }
    public var kind: Kind
    public var slot: PolicySlot
    public var name: String
    public var message: String
    /// "file:line" when Lua reported a location.
    public var location: String?

    public init(kind: Kind, slot: PolicySlot, name: String, message: String, location: String? = nil) {
        self.kind = kind
        self.slot = slot
        self.name = name
        self.message = message
        self.location = location
    }

    public var description: String {
        "\(slot.rawValue) policy \(name): " + (location.map { "\($0): " } ?? "") + message
    }

    static func from(_ error: LuaError, slot: PolicySlot, name: String, loading: Bool) -> PolicyError {
        let kind: Kind
        switch error.kind {
        case .budget, .deadline, .memory: kind = .killed
        default: kind = loading ? .load : .runtime
        }
        return PolicyError(kind: kind, slot: slot, name: name, message: error.message, location: error.location)
    }
}
