/// One option a command accepts.
public struct OptionSpec: Sendable {
    /// Every spelling, long first: `["--output", "-o"]`.
    public var names: [String]
    /// Placeholder for the value (`FILE`); nil for a flag.
    public var valueName: String?
    public var help: String
    public var repeats: Bool
    /// What a shell should offer for the value (`tt completions`); guessed from the placeholder unless given.
    public var completion: ValueCompletion

    public init(_ names: [String], value: String? = nil, repeats: Bool = false, complete: ValueCompletion? = nil,
                help: String) {
        self.names = names
        self.valueName = value
        self.help = help
        self.repeats = repeats
        self.completion = complete ?? ValueCompletion.guess(from: value)
    }

    public var key: String { names[0] }

    public static let json = OptionSpec(["--json"], help: "print machine-readable JSON on stdout")
    public static let verbose = OptionSpec(["--verbose", "-v"], help: "log protocol detail to stderr")
    public static let quiet = OptionSpec(["--quiet", "-q"], help: "print only results and errors")
    public static let help = OptionSpec(["--help", "-h"], help: "show this help")
    public static let common: [OptionSpec] = [.json, .verbose, .quiet, .help]
}

/// What a command is and accepts; drives parsing, `--help` and usage errors.
public struct CommandSpec: Sendable {
    public var name: String
    public var summary: String
    public var usage: String
    public var options: [OptionSpec]
    /// How many positional arguments are allowed.
    public var positionals: ClosedRange<Int>
    public var discussion: String
    public var examples: [String]
    /// What a shell should offer for the positional arguments (`tt completions`).
    public var operands: ValueCompletion

    public init(name: String, summary: String, usage: String, options: [OptionSpec], positionals: ClosedRange<Int>,
                discussion: String = "", examples: [String] = [], operands: ValueCompletion? = nil) {
        self.name = name
        self.operands = positionals.upperBound == 0 ? .none : operands ?? ValueCompletion.guess(usage: usage)
        self.summary = summary
        self.usage = usage
        self.options = options + OptionSpec.common
        self.positionals = positionals
        self.discussion = discussion
        self.examples = examples
    }

    public var helpText: String {
        var text = "\(summary)\n\nUsage: \(usage)\n"
        if !discussion.isEmpty { text += "\n\(discussion)\n" }
        text += "\nOptions:\n"
        let rows = options.map { option -> (String, String) in
            let spelled = option.names.sorted { $0.count < $1.count }.joined(separator: ", ")
            return (option.valueName.map { "\(spelled) \($0)" } ?? spelled, option.help)
        }
        let width = min(28, rows.map(\.0.count).max() ?? 0)
        for (left, right) in rows {
            let pad = left.count < width ? String(repeating: " ", count: width - left.count) : ""
            text += "  \(left)\(pad)  \(right)\n"
        }
        if !examples.isEmpty {
            text += "\nExamples:\n" + examples.map { "  \($0)\n" }.joined()
        }
        return text
    }
}

/// Parsed command line: flags, option values in order, positionals.
public struct ParsedArguments: Sendable {
    public var flags: Set<String> = []
    public var values: [String: [String]] = [:]
    public var positionals: [String] = []

    public func has(_ key: String) -> Bool { flags.contains(key) }
    public func value(_ key: String) -> String? { values[key]?.last }
    public func all(_ key: String) -> [String] { values[key] ?? [] }

    /// An integer option within `range`, or a usage error naming the option.
    public func integer(_ key: String, in range: ClosedRange<Int>) throws(TTError) -> Int? {
        guard let text = value(key) else { return nil }
        guard let number = Int(text), range.contains(number) else {
            throw .usage("\(key) needs a whole number from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
        }
        return number
    }

    public static func parse(_ arguments: [String], spec: CommandSpec) throws(TTError) -> ParsedArguments {
        var parsed = ParsedArguments()
        var index = 0
        var onlyPositionals = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if onlyPositionals || argument == "-" || !argument.hasPrefix("-") || isNegativeNumber(argument) {
                parsed.positionals.append(argument)
                continue
            }
            if argument == "--" { onlyPositionals = true; continue }
            var name = argument
            var inlineValue: String? = nil
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                inlineValue = String(argument[argument.index(after: equals)...])
            }
            guard let option = spec.options.first(where: { $0.names.contains(name) }) else {
                var message = "unknown option '\(name)' for 'tt \(spec.name)'"
                if let suggestion = suggest(name, among: spec.options.flatMap(\.names).filter { $0.hasPrefix("--") }) {
                    message += "; did you mean \(suggestion)?"
                } else {
                    message += "; see 'tt \(spec.name) --help'"
                }
                throw .usage(message)
            }
            if let valueName = option.valueName {
                let value: String
                if let inlineValue {
                    value = inlineValue
                } else {
                    guard index < arguments.count else { throw .usage("\(name) needs a value (\(valueName))") }
                    value = arguments[index]
                    index += 1
                }
                if !option.repeats, parsed.values[option.key] != nil {
                    throw .usage("\(name) given more than once")
                }
                parsed.values[option.key, default: []].append(value)
            } else {
                if inlineValue != nil { throw .usage("\(name) takes no value") }
                parsed.flags.insert(option.key)
            }
        }
        if parsed.has("--help") { return parsed }
        let count = parsed.positionals.count
        if count < spec.positionals.lowerBound {
            throw .usage("missing argument; usage: \(spec.usage)")
        }
        if count > spec.positionals.upperBound {
            throw .usage("unexpected argument '\(parsed.positionals[spec.positionals.upperBound])'; usage: \(spec.usage)")
        }
        return parsed
    }

    /// A size as users type it: `262144`, `256K`, `16M`, `1G` (also `KiB`, `MiB`, `GiB`); nil otherwise.
    public static func byteSize(_ text: String) -> Int? {
        let upper = text.uppercased()
        for (suffix, factor) in [("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)]
        where upper.hasSuffix(suffix) {
            return Int(upper.dropLast(suffix.count)).flatMap { $0.multipliedReportingOverflow(by: factor).overflow ? nil : $0 * factor }
        }
        return Int(text)
    }

    static func isNegativeNumber(_ text: String) -> Bool {
        text.count > 1 && text.hasPrefix("-") && text.dropFirst().allSatisfy(\.isNumber)
    }

    /// The closest known spelling, if it is close enough to be a typo.
    public static func suggest(_ word: String, among candidates: [String]) -> String? {
        let scored = candidates.map { ($0, editDistance(word, $0)) }.min { $0.1 < $1.1 }
        guard let (best, distance) = scored, distance <= max(2, word.count / 3) else { return nil }
        return best
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
