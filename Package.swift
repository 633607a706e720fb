// swift-tools-version:6.1
// kube9: a Kubernetes-compatible orchestrator whose policies are Lua scripts.
// Module layout and dependency direction: docs/architecture.md.

import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "kube9",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kube9", targets: ["kube9"]),
        .executable(name: "kube9-shim", targets: ["kube9-shim"]),
        .library(name: "Kube9Model", targets: ["Kube9Model"]),
        .library(name: "Kube9Store", targets: ["Kube9Store"]),
        .library(name: "Kube9Server", targets: ["Kube9Server"]),
        .library(name: "Kube9Client", targets: ["Kube9Client"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // System libraries through pkg-config, each with its shim header (macros, variadics).
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CLua", pkgConfig: "lua5.4", providers: [.apt(["liblua5.4-dev"])]),
        .systemLibrary(name: "CEditLine", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),

        .target(name: "CLuaShims", dependencies: ["CLua"]),
        // The process runtime's per-container supervisor: C, so a container start is a fork and an exec.
        .executableTarget(name: "kube9-shim"),
        // Threads of their own for blocking and long work (Lua, libcurl, runtimes): never the cooperative pool.
        .target(name: "Kube9Threads", swiftSettings: strict),
        .target(name: "Kube9Lua", dependencies: ["CLua", "CLuaShims", "Kube9Threads"], exclude: ["README.md"], swiftSettings: strict),
        .target(
            name: "Kube9Policy",
            dependencies: ["Kube9Lua", "Kube9Model", "Kube9Threads", .product(name: "Logging", package: "swift-log")],
            exclude: ["README.md"], swiftSettings: strict),
        .target(
            name: "Kube9Controllers",
            dependencies: ["Kube9Model", .product(name: "Logging", package: "swift-log")],
            exclude: ["README.md"], swiftSettings: strict),
        .target(
            name: "Kube9Scheduler",
            dependencies: ["Kube9Controllers", "Kube9Policy", "Kube9Lua", "Kube9Threads", "Kube9Model", .product(name: "Logging", package: "swift-log")],
            exclude: ["README.md"], swiftSettings: strict),
        .target(
            name: "Kube9Autoscaler",
            dependencies: ["Kube9Controllers", "Kube9Policy", "Kube9Lua", "Kube9Model", .product(name: "Logging", package: "swift-log")],
            exclude: ["README.md"], swiftSettings: strict),
        .target(
            name: "Kube9Proxy",
            dependencies: [
                "Kube9Client", "Kube9Model", "Kube9Policy", "Kube9Lua", "Kube9Runtime", "Kube9Threads", .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["README.md"], swiftSettings: strict),
        .target(
            name: "Kube9Agent",
            dependencies: [
                "Kube9Client", "Kube9Model", "Kube9Runtime", "Kube9Threads", .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            exclude: ["README.md"], swiftSettings: strict),
        .target(
            name: "Kube9Runtime",
            dependencies: ["Kube9Client", "Kube9Model"],
            exclude: ["README.md"], swiftSettings: strict),
        .target(
            name: "Kube9Model",
            dependencies: [.product(name: "OrderedCollections", package: "swift-collections")],
            swiftSettings: strict),
        .target(
            name: "Kube9Store",
            dependencies: [
                "Kube9Model", "CSQLite",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["README.md"], swiftSettings: strict),
        .target(
            name: "Kube9Server",
            dependencies: [
                "Kube9Model", "Kube9Store", "Kube9Policy", "Kube9Lua", "Kube9Controllers", "Kube9Scheduler", "Kube9Autoscaler", "Kube9Client", "Kube9Threads",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["README.md", "KubeNineV0/README.md"], swiftSettings: strict),
        .target(
            name: "Kube9Client",
            dependencies: ["Kube9Model", "CCurl", "Kube9Threads", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        .target(
            name: "Kube9Testing",
            dependencies: ["Kube9Model", "Kube9Client", "Kube9Store", "Kube9Runtime"],
            swiftSettings: strict),
        .executableTarget(
            name: "kube9",
            dependencies: [
                "Kube9Model", "Kube9Store", "Kube9Server", "Kube9Client", "Kube9Policy", "Kube9Lua", "CEditLine", "Kube9Agent", "Kube9Proxy", "Kube9Runtime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        .testTarget(name: "Kube9LuaTests", dependencies: ["Kube9Lua"], exclude: ["Hostile"], swiftSettings: strict),
        .testTarget(name: "Kube9PolicyTests", dependencies: ["Kube9Policy", "Kube9Lua", "Kube9Model"], swiftSettings: strict),
        .testTarget(name: "Kube9RuntimeTests", dependencies: ["Kube9Runtime", "Kube9Agent", "Kube9Model", "Kube9Testing"], swiftSettings: strict),
        .testTarget(name: "Kube9ModelTests", dependencies: ["Kube9Model"], swiftSettings: strict),
        .testTarget(name: "Kube9ProxyTests", dependencies: ["Kube9Proxy", "Kube9Policy", "Kube9Model", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .testTarget(name: "Kube9StoreTests", dependencies: ["Kube9Store", "Kube9Model"], swiftSettings: strict),
        .testTarget(
            name: "Kube9ServerTests",
            dependencies: ["Kube9Server", "Kube9Store", "Kube9Model", "Kube9Scheduler", "Kube9Controllers",
                           .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["Kube9Testing", "Kube9Client", "Kube9Model", "Kube9Runtime", "Kube9Proxy"],
            swiftSettings: strict),
    ]
)
