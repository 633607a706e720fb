import Foundation
import Kube9Model
import Kube9Runtime
import Synchronization

/// The volumes of the pods on one node, as directories under `root/<pod uid>/volumes/<name>`.
///
/// ```
/// pod spec.volumes ─▶ payload (configMap, secret, downwardAPI, projected: files and modes)
///                  ─▶ atomic write: ..<stamp>/ files, ..data → ..<stamp>, KEY → ..data/KEY
///                  ─▶ mounts of each container (Docker binds; the process runtime gets the paths)
/// ```
/// Content volumes are written the kubelet's way, so an update swaps one symlink and a running
/// container that mounted the directory sees the new files at once (a `subPath` mount does not,
/// as in Kubernetes). emptyDir is a directory that lives as long as the pod; hostPath is the
/// node's own path; a persistentVolumeClaim is its bound volume's directory (NodeAgent+Claims).
final class PodVolumes: Sendable {
    let root: String
    /// The node's paths are this process's paths (process runtime); false for Docker nodes,
    /// whose host paths dockerd resolves outside the agent's container.
    let hostPathsVisible: Bool
    /// Per volume directory: the last payload written (so an unchanged one is not rewritten) and when it was checked.
    let written = Mutex<[String: (payload: [VolumeProjection.File], checked: Date)]>([:])
    /// Seconds between re-reads of a running pod's ConfigMaps and Secrets.
    static let refreshSeconds: Double = 5

    init(root: String, hostPathsVisible: Bool) {
        self.root = root
        self.hostPathsVisible = hostPathsVisible
    }

    func directory(uid: String, volume: String) -> String { "\(root)/\(uid)/volumes/\(volume)" }

    /// Writes or refreshes every volume of `pod`; returns volume name → the path to mount.
    /// `refreshOnly`: content volumes are re-read only when their last check is older than
    /// `refreshSeconds` (a running pod's periodic update).
    /// `claims` gives the directory of a bound claim's volume (persistentVolumeClaim volumes are
    /// left out without it: a refresh touches only content volumes).
    func prepare(_ pod: JSON, sources: PodEnvironment.Sources, facts: PodEnvironment.PodFacts, refreshOnly: Bool = false,
                 claims: ((String) throws -> String)? = nil) throws -> [String: String] {
        let uid = ObjectMeta.uid(of: pod)
        guard !uid.isEmpty, !uid.contains("/"), !uid.contains("..") else {
            throw PodEnvironment.Problem("pod uid \(uid) cannot name a directory")
        }
        var paths: [String: String] = [:]
        // Only the agent's user reaches a pod's directories (Secret files among them); containers see their mounts.
        try FileManager.default.createDirectory(atPath: "\(root)/\(uid)/volumes", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        _ = chmod("\(root)/\(uid)", 0o700)
        for volume in pod[path: ["spec", "volumes"]]?.arrayValue ?? [] {
            guard let name = volume["name"]?.stringValue, NameRules.dns1123LabelError(name) == nil else { continue }
            let directory = directory(uid: uid, volume: name)
            if let hostPath = volume["hostPath"], let path = hostPath["path"]?.stringValue {
                try checkHostPath(path, type: hostPath["type"]?.stringValue ?? "")
                paths[name] = path
                continue
            }
            if let claim = volume["persistentVolumeClaim"] {
                guard let claims else { continue }
                guard let claimName = claim["claimName"]?.stringValue else { throw PodEnvironment.Problem("volume \(name): persistentVolumeClaim.claimName is required") }
                paths[name] = try claims(claimName)
                continue
            }
            if volume["emptyDir"] != nil {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
                _ = chmod(directory, 0o777)
                paths[name] = directory
                continue
            }
            paths[name] = directory
            if refreshOnly, let last = written.withLock({ $0[directory]?.checked }), Date().timeIntervalSince(last) < Self.refreshSeconds { continue }
            guard let payload = try VolumeProjection.payload(volume, pod: pod, sources: sources, facts: facts) else {
                paths[name] = nil
                continue
            }
            let previous = written.withLock { $0[directory]?.payload }
            if previous != payload || !FileManager.default.fileExists(atPath: directory + "/..data") {
                try AtomicWriter.write(payload, to: directory)
            }
            written.withLock { $0[directory] = (payload, Date()) }
        }
        return paths
    }

    func checkHostPath(_ path: String, type: String) throws {
        guard path.hasPrefix("/") else { throw PodEnvironment.Problem("hostPath \(path) must be absolute") }
        guard hostPathsVisible else { return }
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        switch type {
        case "DirectoryOrCreate" where !exists:
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        case "FileOrCreate" where !exists:
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o644]) else {
                throw PodEnvironment.Problem("hostPath \(path): cannot create the file")
            }
        case "Directory" where !(exists && isDirectory.boolValue), "DirectoryOrCreate" where !isDirectory.boolValue:
            throw PodEnvironment.Problem("hostPath type check failed: \(path) is not a directory")
        case "File" where !(exists && !isDirectory.boolValue), "FileOrCreate" where isDirectory.boolValue:
            throw PodEnvironment.Problem("hostPath type check failed: \(path) is not a file")
        case "Socket", "CharDevice", "BlockDevice":
            if !exists { throw PodEnvironment.Problem("hostPath type check failed: \(path) does not exist") }
        default: break
        }
    }

    /// The container's mounts: each volumeMount's volume path (with its subPath) at its mountPath.
    static func mounts(_ container: JSON, pod: JSON, paths: [String: String]) throws -> [ContainerMount] {
        let readOnlyKinds = ["configMap", "secret", "downwardAPI", "projected"]
        let volumes = pod[path: ["spec", "volumes"]]?.arrayValue ?? []
        return try (container["volumeMounts"]?.arrayValue ?? []).map { mount in
            let name = mount["name"]?.stringValue ?? ""
            guard let source = paths[name], let target = mount["mountPath"]?.stringValue, target.hasPrefix("/") else {
                throw PodEnvironment.Problem("volume \(name) of mount \(mount["mountPath"]?.stringValue ?? "") is not ready")
            }
            var path = source
            if let subPath = mount["subPath"]?.stringValue, !subPath.isEmpty {
                guard VolumeProjection.isSafeRelativePath(subPath), !subPath.contains(":") else {
                    throw PodEnvironment.Problem("subPath \(subPath) must be a relative path without '..'")
                }
                path = try resolveInside(source, subPath)
            }
            let volume = volumes.first { $0["name"]?.stringValue == name }
            let forcedReadOnly = readOnlyKinds.contains { volume?[$0] != nil } || volume?[path: ["persistentVolumeClaim", "readOnly"]]?.boolValue == true
            return ContainerMount(volume: name, source: path, target: target, readOnly: forcedReadOnly || mount["readOnly"]?.boolValue == true)
        }
    }

    /// `subPath` under `root`, component by component: a missing directory is made, a symlink is
    /// followed only while it stays inside `root` (a container could otherwise point one at the
    /// node's `/` and have it bound: CVE-2017-1002101). Returns the real path to bind.
    static func resolveInside(_ root: String, _ subPath: String) throws -> String {
        guard let realRoot = realPath(root) else { throw PodEnvironment.Problem("volume directory \(root) does not exist") }
        var current = realRoot
        for component in subPath.split(separator: "/").map(String.init) {
            let next = current + "/" + component
            var info = stat()
            if lstat(next, &info) != 0 {
                guard mkdir(next, 0o755) == 0 || errno == EEXIST else { throw PodEnvironment.Problem("subPath \(subPath): cannot create \(component)") }
            }
            guard let resolved = realPath(next), resolved == realRoot || resolved.hasPrefix(realRoot + "/") else {
                throw PodEnvironment.Problem("subPath \(subPath) leads outside its volume")
            }
            current = resolved
        }
        return current
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Forgets and deletes the volumes of a pod that is gone.
    func remove(uid: String) {
        guard !uid.isEmpty, !uid.contains("/"), !uid.contains("..") else { return }
        let prefix = "\(root)/\(uid)/"
        written.withLock { $0 = $0.filter { !$0.key.hasPrefix(prefix) } }
        try? FileManager.default.removeItem(atPath: "\(root)/\(uid)")
    }
}

/// The kubelet's atomic writer: the files go into a new hidden directory, `..data` is switched to
/// it with one rename, and each top-level name is a symlink through `..data`.
enum AtomicWriter {
    static func write(_ payload: [VolumeProjection.File], to directory: String) throws {
        let manager = FileManager.default
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let stamp = "..\(Timestamp.nowSeconds())_\(NameRules.randomSuffix(length: 8))"
        let staging = directory + "/" + stamp
        try manager.createDirectory(atPath: staging, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        for file in payload {
            let path = staging + "/" + file.path
            try manager.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            guard manager.createFile(atPath: path, contents: Data(file.bytes), attributes: [.posixPermissions: file.mode & 0o777]) else {
                throw PodEnvironment.Problem("cannot write \(path)")
            }
            _ = chmod(path, mode_t(file.mode & 0o777))
        }
        let old = (try? manager.destinationOfSymbolicLink(atPath: directory + "/..data"))
        let temporary = directory + "/..data_tmp"
        try? manager.removeItem(atPath: temporary)
        try manager.createSymbolicLink(atPath: temporary, withDestinationPath: stamp)
        guard rename(temporary, directory + "/..data") == 0 else { throw PodEnvironment.Problem("cannot switch \(directory)/..data: errno \(errno)") }
        let topLevel = Set(payload.map { String($0.path.split(separator: "/").first ?? "") })
        for name in topLevel where !manager.fileExists(atPath: directory + "/" + name) || (try? manager.destinationOfSymbolicLink(atPath: directory + "/" + name)) == nil {
            try? manager.removeItem(atPath: directory + "/" + name)
            try manager.createSymbolicLink(atPath: directory + "/" + name, withDestinationPath: "..data/" + name)
        }
        for entry in (try? manager.contentsOfDirectory(atPath: directory)) ?? [] where !entry.hasPrefix("..") && !topLevel.contains(entry) {
            try? manager.removeItem(atPath: directory + "/" + entry)
        }
        if let old, old != stamp { try? manager.removeItem(atPath: directory + "/" + old) }
        // Staging directories a failed earlier write left behind.
        for entry in (try? manager.contentsOfDirectory(atPath: directory)) ?? []
        where entry.hasPrefix("..") && entry != stamp && entry != "..data" && entry != "..data_tmp" {
            try? manager.removeItem(atPath: directory + "/" + entry)
        }
    }
}
