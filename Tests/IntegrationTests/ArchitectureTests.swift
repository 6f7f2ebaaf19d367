import Foundation
import Testing

/// The folders of the library depend on each other one way only: the check CI runs passes on
/// the sources, and catches a folder that reaches up.
@Suite struct ArchitectureTests {
    func check(_ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Firedrill.repoRoot + "/scripts/check-layers.py"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func theSourcesFollowTheFlow() throws {
        let r = try check([])
        #expect(r.status == 0, "\(r.output)")
    }

    @Test func aFolderThatReachesUpIsNamedWithTheUse() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fd-layers-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        for folder in ["Model", "Session"] { try FileManager.default.createDirectory(atPath: "\(root)/\(folder)", withIntermediateDirectories: true) }
        try "public struct DrillSession {}\n".write(toFile: "\(root)/Session/DrillSession.swift", atomically: true, encoding: .utf8)
        try "// DrillSession in a comment is no use\nstruct Playbook { var s: DrillSession; var t = \"DrillSession\" }\n"
            .write(toFile: "\(root)/Model/Playbook.swift", atomically: true, encoding: .utf8)
        let r = try check(["--root", root])
        #expect(r.status == 1)
        #expect(r.output.contains("Playbook.swift:2: Model uses DrillSession from Session, which is above it"), "\(r.output)")
        #expect(!r.output.contains("Playbook.swift:1:"), "a comment is not a use")
    }
}
