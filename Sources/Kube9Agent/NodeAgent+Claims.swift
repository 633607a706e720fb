import Foundation
import Kube9Model

/// PersistentVolumeClaim volumes: the bound volume's directory (made on first use for a
/// local-path volume of this node), and the sweep that removes local-path directories whose
/// PersistentVolume is gone (reclaim policy Delete).
///
/// ```
/// pod volume ─▶ GET claim (Bound?) ─▶ GET volume (claimRef = claim, this node's?) ─▶ directory ─▶ mount
/// tick (every 30 s) ─▶ GET persistentvolumes ─▶ pvc-* directories under the storage root no volume names ─▶ removed
/// ```
extension NodeAgent {
    /// Seconds between sweeps of the local-path directories.
    static let storageSweepSeconds: Double = 30

    /// The directory to mount for claim `claim` in `namespace`; a Problem (the container waits
    /// with CreateContainerConfigError, retried at the next sync) while it is not usable here.
    func claimedVolumePath(namespace: String, claim: String) throws -> String {
        guard NameRules.dns1123SubdomainError(claim) == nil else {
            throw PodEnvironment.Problem("persistentvolumeclaim name \"\(claim)\" is not a valid object name")
        }
        guard let claimObject = try read("/api/v1/namespaces/\(namespace)/persistentvolumeclaims/\(claim)") else {
            throw PodEnvironment.Problem("persistentvolumeclaim \"\(claim)\" not found")
        }
        let volumeName = claimObject[path: ["spec", "volumeName"]]?.stringValue ?? ""
        guard claimObject[path: ["status", "phase"]]?.stringValue == "Bound", NameRules.dns1123SubdomainError(volumeName) == nil else {
            throw PodEnvironment.Problem("persistentvolumeclaim \"\(claim)\" is not bound yet")
        }
        guard let volume = try read("/api/v1/persistentvolumes/\(volumeName)") else {
            throw PodEnvironment.Problem("persistentvolume \"\(volumeName)\" not found")
        }
        guard volume[path: ["spec", "claimRef", "uid"]]?.stringValue == ObjectMeta.uid(of: claimObject) else {
            throw PodEnvironment.Problem("persistentvolume \"\(volumeName)\" is not bound to claim \"\(claim)\"")
        }
        if let node = ObjectMeta.annotation(volume, LocalPath.nodeAnnotation), node != name {
            throw PodEnvironment.Problem("volume node affinity conflict: persistentvolume \"\(volumeName)\" lives on node \(node)")
        }
        guard let path = PersistentVolumeStrategy.path(of: volume), path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
            throw PodEnvironment.Problem("persistentvolume \"\(volumeName)\" has no hostPath or local path")
        }
        let storage = configuration.storageDirectory
        if !storage.isEmpty, path.hasPrefix(storage + "/"), !path.dropFirst(storage.count + 1).contains("/") {
            // A local-path volume: its directory is made on first use, writable by any container user (as k3s makes it).
            if !FileManager.default.fileExists(atPath: path) {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
                _ = chmod(path, 0o777)
            }
        } else if volume[path: ["spec", "hostPath"]] != nil {
            try volumes.checkHostPath(path, type: volume[path: ["spec", "hostPath", "type"]]?.stringValue ?? "")
        } else if volumes.hostPathsVisible, !FileManager.default.fileExists(atPath: path) {
            throw PodEnvironment.Problem("local volume path \(path) does not exist on node \(name)")
        }
        return path
    }

    /// GETs an object; nil when it does not exist.
    func read(_ path: String) throws -> JSON? {
        let reply = try client.withConnection { try $0.request("GET", path) }
        if reply.status == 404 { return nil }
        guard reply.status == 200 else { throw PodEnvironment.Problem("reading \(path): HTTP \(reply.status) \(reply.text)") }
        return try reply.json()
    }

    /// Every `storageSweepSeconds`, on a worker thread: removes the local-path directories of
    /// this node that no PersistentVolume names any more. Nothing is removed when the list fails.
    func sweepStorageIfDue() {
        let storage = configuration.storageDirectory
        guard !storage.isEmpty else { return }
        let due = storageSweptAt.withLock { last -> Bool in
            guard Date().timeIntervalSince(last) >= Self.storageSweepSeconds else { return false }
            last = Date()
            return true
        }
        guard due, let entries = try? FileManager.default.contentsOfDirectory(atPath: storage), entries.contains(where: { $0.hasPrefix("pvc-") }) else { return }
        Self.eventWorkers.submit { [self] in
            guard let reply = try? client.withConnection({ try $0.request("GET", "/api/v1/persistentvolumes") }), reply.status == 200,
                  let items = (try? reply.json())?["items"]?.arrayValue else { return }
            let named = Set(items.compactMap(PersistentVolumeStrategy.path(of:)))
            for entry in entries where entry.hasPrefix("pvc-") && !entry.contains("/") && !named.contains(storage + "/" + entry) {
                do {
                    try FileManager.default.removeItem(atPath: storage + "/" + entry)
                    logger.info("removed the directory of a deleted volume", metadata: ["path": "\(storage)/\(entry)"])
                } catch {
                    logger.warning("cannot remove the directory of a deleted volume", metadata: ["path": "\(storage)/\(entry)", "error": "\(error)"])
                }
            }
        }
    }
}
