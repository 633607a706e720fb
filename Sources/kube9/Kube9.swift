import ArgumentParser
import Kube9Server

/// The kube9 command line: one binary for the control plane and its tools.
@main
struct Kube9: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kube9",
        abstract: "A Kubernetes-compatible container orchestrator whose policies are Lua scripts.",
        version: Kube9Build.version,
        subcommands: [ServerCommand.self, AgentCommand.self, NodeCommand.self, KubeconfigCommand.self, VersionCommand.self, PolicyCommand.self, LuaCommand.self, BenchCommand.self])
}
