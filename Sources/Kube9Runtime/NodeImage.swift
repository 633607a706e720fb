import Foundation

/// A ustar archive built in memory: directories, files and symbolic links, root-owned.
public struct TarArchive {
    public private(set) var bytes: [UInt8] = []
    private var directories: Set<String> = []

    public init() {}

    /// Adds `path` (absolute or relative; stored relative) and, first, its missing parents.
    public mutating func addFile(_ path: String, contents: [UInt8], mode: Int = 0o755) throws {
        let name = try addParents(path)
        try header(name: name, mode: mode, size: contents.count, type: "0", link: "")
        bytes.append(contentsOf: contents)
        let padding = (512 - contents.count % 512) % 512
        bytes.append(contentsOf: [UInt8](repeating: 0, count: padding))
    }

    public mutating func addSymlink(_ path: String, target: String) throws {
        let name = try addParents(path)
        try header(name: name, mode: 0o777, size: 0, type: "2", link: target)
    }

    public mutating func addDirectory(_ path: String, mode: Int = 0o755) throws {
        let name = Self.relative(path)
        guard !name.isEmpty, !directories.contains(name) else { return }
        _ = try addParents(name)
        directories.insert(name)
        try header(name: name + "/", mode: mode, size: 0, type: "5", link: "")
    }

    /// The finished archive (two zero blocks appended).
    public func finished() -> [UInt8] { bytes + [UInt8](repeating: 0, count: 1024) }

    static func relative(_ path: String) -> String {
        String(path.drop(while: { $0 == "/" })).split(separator: "/").joined(separator: "/")
    }

    private mutating func addParents(_ path: String) throws -> String {
        let name = Self.relative(path)
        var parent = ""
        for component in name.split(separator: "/").dropLast() {
            parent = parent.isEmpty ? String(component) : parent + "/" + component
            if !directories.contains(parent) {
                directories.insert(parent)
                try header(name: parent + "/", mode: 0o755, size: 0, type: "5", link: "")
            }
        }
        return name
    }

    private mutating func header(name: String, mode: Int, size: Int, type: Character, link: String) throws {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, _ offset: Int, _ length: Int) {
            for (index, byte) in text.utf8.prefix(length).enumerated() { block[offset + index] = byte }
        }
        func octal(_ value: Int, _ offset: Int, _ length: Int) {
            put(String(String(value, radix: 8).suffix(length - 1)).leftPadded(to: length - 1), offset, length - 1)
        }
        var stored = name
        var prefix = ""
        if name.utf8.count > 100 {
            // ustar splits long names at a slash: prefix (155) / name (100).
            guard let slash = name.utf8.indices.last(where: { name.utf8[$0] == UInt8(ascii: "/") && name.utf8.distance(from: $0, to: name.utf8.endIndex) <= 101 }),
                  name.utf8.distance(from: name.utf8.startIndex, to: slash) <= 155 else {
                throw RuntimeError.refused(operation: "tar", detail: "path too long for ustar: \(name)")
            }
            prefix = String(name[..<slash])
            stored = String(name[name.index(after: slash)...])
        }
        guard link.utf8.count <= 100 else { throw RuntimeError.refused(operation: "tar", detail: "link target too long: \(link)") }
        put(stored, 0, 100)
        octal(mode, 100, 8)
        octal(0, 108, 8)
        octal(0, 116, 8)
        octal(size, 124, 12)
        octal(Int(Date().timeIntervalSince1970), 136, 12)
        put("        ", 148, 8)
        block[156] = type.utf8.first ?? UInt8(ascii: "0")
        put(link, 157, 100)
        put("ustar\u{0}", 257, 6)
        put("00", 263, 2)
        put("root", 265, 32)
        put("root", 297, 32)
        put(prefix, 345, 155)
        let checksum = block.reduce(0) { $0 + Int($1) }
        put(String(String(checksum, radix: 8)).leftPadded(to: 6) + "\u{0} ", 148, 8)
        bytes.append(contentsOf: block)
    }
}

extension String {
    func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}

/// Images kube9 builds locally (no registry is reachable): the node image (the kube9 binary,
/// the shared libraries `ldd` lists, a static busybox) and the sandbox image (busybox alone).
public enum NodeImage {
    public static let defaultReference = "kube9/node:latest"
    /// Where the kube9 binary sits inside the node image.
    public static let binaryPath = "/usr/local/bin/kube9"

    /// Splits "repo:tag" (tag defaults to latest).
    public static func split(_ reference: String) -> (repository: String, tag: String) {
        if let colon = reference.lastIndex(of: ":"), !reference[colon...].contains("/") {
            return (String(reference[..<colon]), String(reference[reference.index(after: colon)...]))
        }
        return (reference, "latest")
    }

    /// Adds a static busybox at /bin/busybox with its applet links.
    static func addBusybox(to archive: inout TarArchive, busybox: String) throws {
        guard let data = FileManager.default.contents(atPath: busybox) else {
            throw RuntimeError.refused(operation: "build image", detail: "cannot read \(busybox); install busybox-static")
        }
        try archive.addFile("/bin/busybox", contents: [UInt8](data))
        let applets = try Subprocess.run(busybox, ["--list"], timeoutSeconds: 10).stdout.split(separator: "\n").map(String.init)
        for applet in applets where !applet.isEmpty && applet != "busybox" {
            try archive.addSymlink("/bin/\(applet)", target: "busybox")
        }
        try archive.addDirectory("/tmp", mode: 0o1777)
        try archive.addDirectory("/etc")
        try archive.addFile("/etc/passwd", contents: Array("root:x:0:0:root:/root:/bin/sh\n".utf8), mode: 0o644)
        try archive.addFile("/etc/group", contents: Array("root:x:0:\n".utf8), mode: 0o644)
        try archive.addDirectory("/root", mode: 0o700)
    }

    /// The sandbox image: busybox, which sleeps as the pod's network holder.
    public static func buildSandboxImage(engine: DockerEngine, reference: String, busybox: String = "/bin/busybox") throws {
        var archive = TarArchive()
        try addBusybox(to: &archive, busybox: busybox)
        let (repository, tag) = split(reference)
        try engine.importImage(tar: archive.finished(), repository: repository, tag: tag, command: ["/bin/busybox", "sleep", "2147483647"])
    }

    /// The shared libraries (and loader) `ldd` lists for `binary`, as absolute paths.
    public static func sharedLibraries(of binary: String) throws -> [String] {
        let result = try Subprocess.run("/usr/bin/ldd", [binary], timeoutSeconds: 30)
        guard result.status == 0 else { throw RuntimeError.refused(operation: "ldd \(binary)", detail: result.stderr + result.stdout) }
        var paths: [String] = []
        for line in result.stdout.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if let arrow = words.firstIndex(of: "=>"), arrow + 1 < words.count, words[arrow + 1].hasPrefix("/") {
                paths.append(words[arrow + 1])
            } else if let first = words.first, first.hasPrefix("/") {
                paths.append(first)
            }
        }
        return paths
    }

    /// Builds the node image: `binary` at /usr/local/bin/kube9, its libraries at the paths
    /// `ldd` gives, busybox; imported as `reference`. Also makes the sandbox image when missing.
    /// Returns the archive's size in bytes.
    @discardableResult
    public static func build(engine: DockerEngine, reference: String = defaultReference, binary: String = Subprocess.currentExecutable(),
                             busybox: String = "/bin/busybox", policies: String? = nil) throws -> Int {
        var archive = TarArchive()
        try addBusybox(to: &archive, busybox: busybox)
        // The built-in policies (the node's service proxy loads policies/loadbalancer), where
        // kube9 looks for them when no policies/ folder is next to the binary.
        if let policies {
            for slot in (try? FileManager.default.contentsOfDirectory(atPath: policies)) ?? [] where !slot.hasPrefix("_") {
                let folder = (policies as NSString).appendingPathComponent(slot)
                for file in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where file.hasSuffix(".lua") {
                    guard let data = FileManager.default.contents(atPath: (folder as NSString).appendingPathComponent(file)) else { continue }
                    try archive.addFile("/usr/share/kube9/policies/\(slot)/\(file)", contents: [UInt8](data), mode: 0o644)
                }
            }
        }
        guard let kube9 = FileManager.default.contents(atPath: binary) else {
            throw RuntimeError.refused(operation: "build node image", detail: "cannot read \(binary)")
        }
        try archive.addFile(binaryPath, contents: [UInt8](kube9))
        for library in try sharedLibraries(of: binary) {
            let real = (try? FileManager.default.destinationOfSymbolicLink(atPath: library)).map {
                $0.hasPrefix("/") ? $0 : (library as NSString).deletingLastPathComponent + "/" + $0
            } ?? library
            guard let data = FileManager.default.contents(atPath: real) ?? FileManager.default.contents(atPath: library) else {
                throw RuntimeError.refused(operation: "build node image", detail: "cannot read \(library)")
            }
            try archive.addFile(library, contents: [UInt8](data))
        }
        let tar = archive.finished()
        let (repository, tag) = split(reference)
        try engine.importImage(tar: tar, repository: repository, tag: tag, command: [binaryPath])
        if try !engine.imageExists(DockerRuntime.defaultSandboxImage) {
            try buildSandboxImage(engine: engine, reference: DockerRuntime.defaultSandboxImage, busybox: busybox)
        }
        return tar.count
    }
}
