import FiredrillCore

enum FiredrillVersion {
    static let current = FiredrillCore.version
}
