import Foundation

/// A file a command writes its output to (`-o FILE`): whole or not at all, never one of the
/// files the output is made from, never in a folder that does not exist.
public enum OutputFile {
    /// Refuses an output path that is empty, in a folder that does not exist, or one of `inputs`
    /// (the journal, its seal, the history database, the playbooks).
    public static func check(_ output: String, keeping inputs: [String]) throws(CommandError) {
        guard !output.isEmpty else { throw CommandError("-o needs a file name") }
        func real(_ p: String) -> String { (URL(fileURLWithPath: p).resolvingSymlinksInPath().path as NSString).standardizingPath }
        if inputs.contains(where: { real($0) == real(output) }) {
            throw CommandError("-o \(output) is one of the files the output is made from: it would be overwritten", hint: "write the output somewhere else")
        }
        let folder = (output as NSString).deletingLastPathComponent.isEmpty ? "." : (output as NSString).deletingLastPathComponent
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw CommandError("-o \(output): the folder \(folder) does not exist", hint: "create it first, or write somewhere else")
        }
    }

    /// Writes `text` to `path` through a temporary file renamed over it.
    public static func write(_ text: String, to path: String) throws(CommandError) {
        if let problem = RunStore.replace(path, with: text) {
            throw CommandError("cannot write \(path): \(problem)", hint: "give -o a path in a folder you can write")
        }
    }
}
