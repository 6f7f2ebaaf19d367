import Foundation

/// Reads one journal line into its flat `JournalLine` without `JSONDecoder` for the flat fields: a
/// single pass over the bytes. The journal is read whole to verify, score, report and import,
/// and Codable's per-key lookups made a 100,000-event journal take over a second. Anything this
/// reader is not sure of (an unknown enum value, a malformed number) returns nil, and the caller
/// decodes the line with `JSONDecoder` instead — the one definition of the format stays Codable.
enum JournalLineDecoder {
    static func decode(_ line: ArraySlice<UInt8>) -> JournalLine? {
        var p = Parser(bytes: line)
        guard let event = p.object() else { return nil }
        return event
    }

    struct Parser {
        /// A hashed lookup: the synthesized `init(stringValue:)` compares against every key in turn.
        static let keys: [String: JournalLine.CodingKeys] = Dictionary(uniqueKeysWithValues: JournalLine.CodingKeys.allCases.map { ($0.stringValue, $0) })

        let bytes: ArraySlice<UInt8>
        var i: Int

        init(bytes: ArraySlice<UInt8>) { self.bytes = bytes; i = bytes.startIndex }

        mutating func skipSpace() { while i < bytes.endIndex, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0a || bytes[i] == 0x0d { i += 1 } }

        mutating func expect(_ c: UInt8) -> Bool {
            skipSpace()
            guard i < bytes.endIndex, bytes[i] == c else { return false }
            i += 1
            return true
        }

        mutating func object() -> JournalLine? {
            guard expect(0x7b) else { return nil }   // {
            var e = JournalLine(.runStarted)
            var sawEvent = false
            skipSpace()
            if i < bytes.endIndex, bytes[i] == 0x7d { return nil }
            while true {
                guard let key = string() else { return nil }
                guard expect(0x3a) else { return nil }   // :
                skipSpace()
                guard i < bytes.endIndex else { return nil }
                guard assign(key, into: &e, sawEvent: &sawEvent) else { return nil }
                skipSpace()
                guard i < bytes.endIndex else { return nil }
                if bytes[i] == 0x2c { i += 1; skipSpace(); continue }   // ,
                if bytes[i] == 0x7d { i += 1; break }                   // }
                return nil
            }
            skipSpace()
            return i == bytes.endIndex && sawEvent ? e : nil
        }

        /// Sets one field; false when unsure (the caller falls back to Codable).
        mutating func assign(_ key: String, into e: inout JournalLine, sawEvent: inout Bool) -> Bool {
            guard let k = Self.keys[key] else { return skipValue() }
            switch k {
            case .seq: guard let n = int() else { return false }; e.seq = n
            case .time: guard let s = string() else { return false }; e.time = s
            case .offsetMS: guard let n = optionalDouble(&e.offsetMS) else { return false }; _ = n
            case .event:
                guard let s = string(), let kind = JournalEvent.Kind(rawValue: s) else { return false }
                e.event = kind
                sawEvent = true
            case .run: guard let s = string() else { return false }; e.run = s
            case .prev: guard let s = string() else { return false }; e.prev = s
            case .format: return optionalString(&e.format)
            case .phase: return optionalEnum(&e.phase)
            case .step: return optionalString(&e.step)
            case .name: return optionalString(&e.name)
            case .host: return optionalString(&e.host)
            case .check: return optionalString(&e.check)
            case .from: return optionalString(&e.from)
            case .command: return optionalString(&e.command)
            case .attempt: return optionalInt(&e.attempt)
            case .passed: return optionalBool(&e.passed)
            case .outcome: return optionalEnum(&e.outcome)
            case .expect: return optionalEnum(&e.expect)
            case .met: return optionalBool(&e.met)
            case .answeredBy: return optionalString(&e.answeredBy)
            case .exit: return optionalInt(&e.exit)
            case .signal: return optionalString(&e.signal)
            case .pgid: return optionalInt(&e.pgid)
            case .processTag: return optionalString(&e.processTag)
            case .timedOut: return optionalBool(&e.timedOut)
            case .durationMS: return optionalDouble(&e.durationMS) != nil
            case .latencyMS: return optionalDouble(&e.latencyMS) != nil
            case .stdout: return optionalString(&e.stdout)
            case .stderr: return optionalString(&e.stderr)
            case .outputCutBytes: return optionalInt(&e.outputCutBytes)
            case .detail: return optionalString(&e.detail)
            case .result: return optionalString(&e.result)
            case .seconds: return optionalDouble(&e.seconds) != nil
            case .objectiveSeconds: return optionalDouble(&e.objectiveSeconds) != nil
            case .withinObjective: return optionalBool(&e.withinObjective)
            case .fromOffsetMS: return optionalDouble(&e.fromOffsetMS) != nil
            case .toOffsetMS: return optionalDouble(&e.toOffsetMS) != nil
            // Nested values (run_started, step_started, run_ended: a few per journal) go through Codable.
            case .spec: return nested(&e.spec)
            case .facts: return nested(&e.facts)
            case .plan: return nested(&e.plan)
            case .data: return nested(&e.data)
            }
            return true
        }

        // MARK: values

        mutating func isNull() -> Bool {
            skipSpace()
            if bytes[i...].starts(with: [0x6e, 0x75, 0x6c, 0x6c]) { i += 4; return true }   // null
            return false
        }

        mutating func optionalString(_ field: inout String?) -> Bool {
            if isNull() { field = nil; return true }
            guard let s = string() else { return false }
            field = s
            return true
        }

        mutating func optionalInt(_ field: inout Int?) -> Bool {
            if isNull() { field = nil; return true }
            guard let n = int() else { return false }
            field = n
            return true
        }

        /// Returns a non-nil marker when the value was read (the field may be set to nil by `null`).
        mutating func optionalDouble(_ field: inout Double?) -> Bool? {
            if isNull() { field = nil; return true }
            guard let n = double() else { return nil }
            field = n
            return true
        }

        mutating func optionalBool(_ field: inout Bool?) -> Bool {
            if isNull() { field = nil; return true }
            skipSpace()
            if bytes[i...].starts(with: [0x74, 0x72, 0x75, 0x65]) { i += 4; field = true; return true }
            if bytes[i...].starts(with: [0x66, 0x61, 0x6c, 0x73, 0x65]) { i += 5; field = false; return true }
            return false
        }

        mutating func optionalEnum<E: RawRepresentable>(_ field: inout E?) -> Bool where E.RawValue == String {
            if isNull() { field = nil; return true }
            guard let s = string(), let v = E(rawValue: s) else { return false }
            field = v
            return true
        }

        mutating func nested<T: Decodable>(_ field: inout T?) -> Bool {
            let start = i
            guard skipValue() else { return false }
            guard let v = try? JSONDecoder().decode(T.self, from: Data(bytes[start..<i])) else { return false }
            field = v
            return true
        }

        mutating func string() -> String? {
            skipSpace()
            guard i < bytes.endIndex, bytes[i] == 0x22 else { return nil }
            i += 1
            let start = i
            // The common case, no escapes: one copy.
            while i < bytes.endIndex, bytes[i] != 0x22, bytes[i] != 0x5c { i += 1 }
            guard i < bytes.endIndex else { return nil }
            if bytes[i] == 0x22 {
                defer { i += 1 }
                return String(decoding: bytes[start..<i], as: UTF8.self)
            }
            var out = Array(bytes[start..<i])
            while i < bytes.endIndex {
                let c = bytes[i]
                if c == 0x22 { i += 1; return String(decoding: out, as: UTF8.self) }
                if c != 0x5c { out.append(c); i += 1; continue }
                i += 1
                guard i < bytes.endIndex else { return nil }
                switch bytes[i] {
                case 0x22: out.append(0x22)
                case 0x5c: out.append(0x5c)
                case 0x2f: out.append(0x2f)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0c)
                case 0x6e: out.append(0x0a)
                case 0x72: out.append(0x0d)
                case 0x74: out.append(0x09)
                case 0x75:
                    // \uXXXX, with surrogate pairs.
                    guard let u = hex4(at: i + 1) else { return nil }
                    i += 4
                    var scalar = UInt32(u)
                    if (0xD800...0xDBFF).contains(u) {
                        guard i + 6 < bytes.endIndex, bytes[i + 1] == 0x5c, bytes[i + 2] == 0x75, let lo = hex4(at: i + 3), (0xDC00...0xDFFF).contains(lo) else { return nil }
                        scalar = 0x10000 + ((UInt32(u) - 0xD800) << 10) + (UInt32(lo) - 0xDC00)
                        i += 6
                    }
                    guard let us = Unicode.Scalar(scalar) else { return nil }
                    out.append(contentsOf: Array(String(Character(us)).utf8))
                default: return nil
                }
                i += 1
            }
            return nil
        }

        func hex4(at j: Int) -> UInt16? {
            guard j + 4 <= bytes.endIndex else { return nil }
            var v: UInt16 = 0
            for k in j..<(j + 4) {
                let c = bytes[k]
                let d: UInt16
                switch c {
                case 0x30...0x39: d = UInt16(c - 0x30)
                case 0x61...0x66: d = UInt16(c - 0x61 + 10)
                case 0x41...0x46: d = UInt16(c - 0x41 + 10)
                default: return nil
                }
                v = v << 4 | d
            }
            return v
        }

        mutating func numberText() -> String? {
            skipSpace()
            let start = i
            while i < bytes.endIndex, (0x30...0x39).contains(bytes[i]) || bytes[i] == 0x2d || bytes[i] == 0x2b || bytes[i] == 0x2e || bytes[i] == 0x65 || bytes[i] == 0x45 { i += 1 }
            return i > start ? String(decoding: bytes[start..<i], as: UTF8.self) : nil
        }

        mutating func int() -> Int? { numberText().flatMap { Int($0) } }
        mutating func double() -> Double? { numberText().flatMap { Double($0) } }

        /// Skips any JSON value (objects and arrays by depth, strings with their escapes).
        mutating func skipValue() -> Bool {
            skipSpace()
            guard i < bytes.endIndex else { return false }
            switch bytes[i] {
            case 0x22: return string() != nil
            case 0x7b, 0x5b:
                var depth = 0
                while i < bytes.endIndex {
                    let c = bytes[i]
                    if c == 0x22 { guard string() != nil else { return false }; continue }
                    if c == 0x7b || c == 0x5b { depth += 1 }
                    if c == 0x7d || c == 0x5d { depth -= 1; if depth == 0 { i += 1; return true } }
                    i += 1
                }
                return false
            default:
                let start = i
                while i < bytes.endIndex, bytes[i] != 0x2c, bytes[i] != 0x7d, bytes[i] != 0x5d, bytes[i] != 0x20 { i += 1 }
                return i > start
            }
        }
    }
}
