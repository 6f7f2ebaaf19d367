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
        // Python 3.10+ strips leading blanks; bytes become text; adjacent strings join; octal escapes.
        #expect(v(" [1]") == .list([.int(1)]) && v("\t2") == .int(2))
        #expect(v("b'abc'") == .string("abc") && v("rb'a\\d'") == .string("a\\d"))
        #expect(v("'a' 'b'") == .string("ab") && v("\"a\" 'b' \"c\"") == .string("abc") && v("u\"x\" \"y\"") == .string("xy"))
        #expect(v("'\\101\\102'") == .string("AB") && v("'\\012'") == .string("\n"))
        #expect(v("--1") == .int(1) && v("-True") == .int(-1))
    }

    @Test func whatIsNotALiteralStaysText() {
        for text in ["yes", "true", "plain text # comment", "007", "1 2", "[1, 2", "{'a' 1}", "foo()", "1j", "0x", "1__0", "", "'unclosed",
                     "1._5", "1_.5", "'\\N{BULLET}'"] {
            #expect(v(text) == .string(text), "\(text)")
        }
    }

    @Test func yamlScalarsAreTypedAsPyYAMLTypesThem() {
        #expect(VarValue.yaml11Int("0644") == 420 && VarValue.yaml11Int("010") == 8 && VarValue.yaml11Int("09") == nil)
        #expect(VarValue.yaml11Int("0x1F") == 31 && VarValue.yaml11Int("0b101") == 5 && VarValue.yaml11Int("1_000") == 1000)
        #expect(VarValue.yaml11Int("1:30") == 90 && VarValue.yaml11Int("1:20:30") == 4830 && VarValue.yaml11Int("-42") == -42)
        #expect(VarValue.yaml11Int("22:61") == nil && VarValue.yaml11Int("abc") == nil && VarValue.yaml11Int("_1") == nil)
        #expect(VarValue.yaml11Float(".5") == 0.5 && VarValue.yaml11Float("1.0e+5") == 100000 && VarValue.yaml11Float("1e5") == nil)
        #expect(VarValue.yaml11Float(".inf") == .infinity && VarValue.yaml11Float("-.inf") == -.infinity && VarValue.yaml11Float(".nan")?.isNaN == true)
        #expect(VarValue.yaml11Float("1.2.3") == nil && VarValue.yaml11Float("1.") == 1.0)
    }

    @Test func infinityIsWrittenAsTextInJSON() throws {
        let json = try JSONOutput.encode(["d": VarValue.double(.infinity), "n": .double(-.infinity)])
        #expect(json.contains("\"Infinity\"") && json.contains("\"-Infinity\""))
    }
}
