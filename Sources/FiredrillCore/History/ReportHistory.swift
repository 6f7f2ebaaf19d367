/// What the history adds to a report: the operator's after-action record and earlier drills.
public struct ReportHistory: Sendable {
    public var inHistory: Bool
    public var annotations: [Annotation]
    public var annotationProblem: String?
    /// This service's runs, oldest first (this run included when it is indexed).
    public var runs: [HistoryEntry]
    /// Why there is no history, when there is none.
    public var note: String?
    /// The history could not be read (corrupt, not a database): the report says so, and the command warns.
    public var problem: String?
    /// The journal head and event count the run was indexed with.
    public var indexedHead: String?
    public var indexedEvents: Int?
    /// The service's open action items (every drill's), due date first.
    public var openActions: [ActionItem] = []

    public init(inHistory: Bool = false, annotations: [Annotation] = [], annotationProblem: String? = nil, runs: [HistoryEntry] = [],
                note: String? = nil, problem: String? = nil, indexedHead: String? = nil, indexedEvents: Int? = nil) {
        self.inHistory = inHistory; self.annotations = annotations; self.annotationProblem = annotationProblem; self.runs = runs; self.note = note
        self.problem = problem; self.indexedHead = indexedHead; self.indexedEvents = indexedEvents
    }
}
