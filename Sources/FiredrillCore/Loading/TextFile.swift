import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a file a user named as text, or says in words why it cannot be one: missing, a folder,
/// a symbolic link loop, unreadable, or binary.
enum TextFile {
    /// Why a file cannot be read as text, in words.
    struct Unreadable: Error { var why: String }

    static func read(_ path: String) -> Result<String, Unreadable> {
        var st = stat()
        if stat(path, &st) != 0 {
            switch errno {
            case ENOENT: return .failure(Unreadable(why: lstat(path, &st) == 0 ? "it is a symbolic link to a file that does not exist" : "no such file"))
            case ELOOP: return .failure(Unreadable(why: "it is a symbolic link loop"))
            case EACCES: return .failure(Unreadable(why: "permission denied"))
            case ENOTDIR: return .failure(Unreadable(why: "a part of the path is a file, not a folder"))
            default: return .failure(Unreadable(why: String(cString: strerror(errno))))
            }
        }
        if st.st_mode & S_IFMT == S_IFDIR { return .failure(Unreadable(why: "it is a folder, not a file")) }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(Unreadable(why: access(path, R_OK) != 0 ? "permission denied" : "it could not be read"))
        }
        // YAML is text: a NUL byte or bytes that are not UTF-8 mean someone named the wrong file.
        if data.contains(0) || String(data: data, encoding: .utf8) == nil {
            return .failure(Unreadable(why: "it is not a text file (it looks binary)"))
        }
        return .success(String(decoding: data, as: UTF8.self))
    }
}
