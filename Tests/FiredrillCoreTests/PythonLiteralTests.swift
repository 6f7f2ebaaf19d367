import Testing
@testable import FiredrillCore

/// INI values typed as ansible-core's `_parse_value` types them (`ast.literal_eval`, else the
/// text); the recorded ansible-core answers for whole inventories are in AnsibleCompatibilityTests.
@Suite struct PythonLiteralTests {
    func v(_ s: String) -> VarValue { INIInventoryParser.parseValue(s) }

    @Test func literalsAreTyped() {
        #expect(v("5432") == .int(5432) && v("-3") == .int(-3) && v("0x1f") == .int(31) && v("0o17") == .int(15) && v("1_000") == .int(1000))
        #expect(v("0.5") == .double(0.5) && v("1e3") == .double(1000) && v(".5") == .double(0.5))
        #expect(v("True") == .bool(true) && v("False") == .bool(false) && v("None") == .null)
        #expect(v("['/dev/sda', '/dev/sdb']") == .list([.string("/dev/sda"), .string("/dev/sdb")]))
        #expect(v("{ 'root': 'HDD', 'host': 'osd0' }") == .map(["root": .string("HDD"), "host": .string("osd0")]))
        #expect(v("(1, 2)") == .list([.int(1), .int(2)]) && v("(1)") == .int(1) && v("()") == .list([]))
        #expect(v("{'a': [1, {'b': None}]}") == .map(["a": .list([.int(1), .map(["b": .null])])]))
        #expect(v("'tab\\there'") == .string("tab\there") && v("r'raw\\n'") == .string("raw\\n") && v("\"double\"") == .string("double"))
        #expect(v("5 # a comment") == .int(5) && v("['a'] # c") == .list([.string("a")]))
    }

    @Test func whatIsNotALiteralStaysText() {
        for text in ["yes", "true", "plain text # comment", "007", " 5", "1 2", "[1, 2", "{'a' 1}", "foo()", "b'bytes'", "1j", "0x", "1__0", "", "'unclosed"] {
            #expect(v(text) == .string(text), "\(text)")
        }
    }
}
