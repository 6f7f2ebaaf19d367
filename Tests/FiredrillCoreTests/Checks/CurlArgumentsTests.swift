import Foundation
import Testing
@testable import FiredrillCore

/// The curl an http check runs from a host, run here for real (against loopback port 9, where
/// nothing listens): a URL is one request, never a glob of many, and only the web is asked.
@Suite struct CurlArgumentsTests {
    func curl(_ url: String) throws -> (status: Int32, stderr: String) {
        let check = HTTPCheck(url: Template(literal: url, at: SourceLocation(file: "t.yml", line: 1, column: 1)), method: "GET", headers: [],
                              expectStatus: [200], bodyContains: nil, bodyRegex: nil, expectHeaders: [:], maxLatency: nil, verifyTLS: true, caFile: nil)
        let args = CheckRunner.curl(check, seconds: 2) + [url]
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func aURLWithBracketsOrBracesIsOneRequest() throws {
        for url in ["http://127.0.0.1:9/[1-3]", "http://127.0.0.1:9/{a,b,c}"] {
            let r = try curl(url)
            #expect(r.stderr.components(separatedBy: "curl: (").count - 1 <= 1, "one request, not one per glob item: \(r.stderr)")
        }
    }

    @Test func onlyTheWebIsAsked() throws {
        let r = try curl("file:///etc/hostname")
        #expect(r.status == 1 && r.stderr.contains("not supported"), "\(r.stderr)")
    }
}
