// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Firedrill",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "firedrill", targets: ["firedrill"]),
        .library(name: "FiredrillCore", targets: ["FiredrillCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.29.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibSSH2",
            pkgConfig: "libssh2",
            providers: [.apt(["libssh2-1-dev"])]
        ),
        // posix_spawn's closefrom, which Swift's Glibc module does not declare.
        .systemLibrary(name: "CPosixSpawn"),
        .target(
            name: "FiredrillCore",
            dependencies: [
                "CLibSSH2",
                "CPosixSpawn",
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // Generated workloads and journals for `firedrill bench` and the tests: not part of the library.
        .target(
            name: "FiredrillBench",
            dependencies: ["FiredrillCore"]
        ),
        .executableTarget(
            name: "firedrill",
            dependencies: [
                "FiredrillCore",
                "FiredrillBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "FiredrillCoreTests",
            dependencies: ["FiredrillCore", "FiredrillBench", .product(name: "NIOCore", package: "swift-nio"), .product(name: "GRDB", package: "GRDB.swift")],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["FiredrillCore", "FiredrillBench"],
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
