/// A value and where in a user's file it was written.
public struct Located<Value: Sendable & Equatable>: Sendable, Equatable {
    public var value: Value
    public var location: SourceLocation
    /// Width of the value in the source, for caret underlines.
    public var width: Int

    public init(_ value: Value, at location: SourceLocation, width: Int = 1) {
        self.value = value
        self.location = location
        self.width = max(1, width)
    }
}
