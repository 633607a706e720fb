import Kube9Threads

/// Where every call into Lua runs when the caller is async: policy hooks, loads, compile
/// checks and state teardown. A Lua call may take its whole deadline, so it never runs on
/// Swift's cooperative pool.
public enum LuaExecutor {
    /// The threads kube9's server and tools share for Lua (4: a call is CPU-bound, and a
    /// few more threads than cores keep one long call from queueing every other).
    public static let shared = WorkerThreads(threads: 4, name: "kube9-lua")
}
