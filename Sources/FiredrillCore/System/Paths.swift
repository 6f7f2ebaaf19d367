import Foundation

/// `path` relative to the folder of `file`, unless absolute.
public func resolvePath(_ path: String, relativeTo file: String) -> String {
    if path.hasPrefix("/") { return path }
    if path.hasPrefix("~/") { return NSString(string: path).expandingTildeInPath }
    let dir = (file as NSString).deletingLastPathComponent
    if dir.isEmpty { return path }
    return normalizePath((dir as NSString).appendingPathComponent(path))
}

/// Removes `.` and resolvable `..` components without touching the file system.
public func normalizePath(_ path: String) -> String {
    var out: [Substring] = []
    let absolute = path.hasPrefix("/")
    for part in path.split(separator: "/") {
        if part == "." { continue }
        if part == "..", let last = out.last, last != ".." { out.removeLast(); continue }
        if part == "..", absolute { continue }
        out.append(part)
    }
    let joined = out.joined(separator: "/")
    return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
}
