import Kube9Lua
import Synchronization

/// Node views kept in each Lua state and updated incrementally. The scheduler records what
/// changed (a node added, its usage after a binding, a node removed); before a cycle, a state
/// applies only the changes it has not seen, so a pod costs one view push instead of one per node.
///
/// ```
/// scheduler ── update(name, view) ──▶ change log (sequence, name, view|nil)
///                                            │ delta since the state's sequence (or a full copy when too old)
///                                            ▼
///                      pooled LuaState: kube9 mirror {name → view}, names in order ─▶ cycle in one call
/// ```
public final class NodeMirror: Sendable {
    struct Log {
        var sequence = 0
        var changes: [(sequence: Int, name: String, view: LuaValue?)] = []
        var latest: [String: LuaValue] = [:]
    }

    private let log = Mutex(Log())
    /// Changes kept before a lagging state is given a full copy instead.
    static let retained = 4096
    private static let nextID = Atomic<Int>(1)
    /// Unique for the life of the process (an object's address is not: a freed mirror's
    /// address can come back for the next one, and a state would then skip its nodes).
    public let id: Int

    public init() {
        id = Self.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// Records a node's current view (nil removes the node). Unchanged views record nothing.
    public func update(_ name: String, view: LuaValue?) {
        log.withLock { log in
            if log.latest[name] == view { return }
            log.sequence += 1
            log.latest[name] = view
            log.changes.append((log.sequence, name, view))
            if log.changes.count > Self.retained * 2 { log.changes.removeFirst(log.changes.count - Self.retained) }
        }
    }

    /// Removes every node not in `names`.
    public func retain(only names: Set<String>) {
        let gone = log.withLock { $0.latest.keys.filter { !names.contains($0) } }
        for name in gone { update(name, view: nil) }
    }

    /// What a state at `sequence` must apply: the changes after it, or (reset) every live view.
    func delta(since sequence: Int) -> (sequence: Int, reset: Bool, changes: [(String, LuaValue?)]) {
        log.withLock { log in
            if sequence == log.sequence { return (sequence, false, []) }
            if sequence >= 0, let first = log.changes.first, first.sequence <= sequence + 1 {
                return (log.sequence, false, log.changes.filter { $0.sequence > sequence }.map { ($0.name, $0.view) })
            }
            return (log.sequence, true, log.latest.map { ($0.key, $0.value) })
        }
    }

    /// A mirror holding exactly these views (for one-off cycles: tests, the REPL).
    public static func of(_ nodes: [LuaValue]) -> NodeMirror {
        let mirror = NodeMirror()
        for node in nodes { if let name = node["name"]?.stringValue { mirror.update(name, view: node) } }
        return mirror
    }
}
