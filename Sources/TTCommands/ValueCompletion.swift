/// What a shell completion offers for an option's value or a command's operands.
public enum ValueCompletion: Sendable, Equatable {
    /// Free text (a number, a URL, a hash): nothing to offer.
    case none
    case file
    case directory
    /// A host (HOST:PORT): the shell's known host names.
    case host
    /// One of a fixed set of words.
    case choices([String])

    /// The kind a placeholder implies: `FILE`/`T`/`PATH` files, `DIR` folders, `HOST:PORT` hosts,
    /// `a|b|c` in lower case the choices it lists; anything else free text.
    public static func guess(from placeholder: String?) -> ValueCompletion {
        guard let placeholder else { return .none }
        switch placeholder {
        case "FILE", "T", "TORRENT", "PATH", "OUT", "FILE|-", "TORRENT|-": return .file
        case "DIR": return .directory
        case "HOST:PORT": return .host
        default: break
        }
        let words = placeholder.split(separator: "|").map(String.init)
        if words.count > 1, words.allSatisfy({ word in !word.isEmpty && word.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" } }) {
            return .choices(words)
        }
        return .none
    }

    /// The operands' kind from a usage line: its first bare placeholder (`tt handshake HOST:PORT …` hosts,
    /// `tt completions bash|zsh|fish` choices); files when it names nothing more specific.
    public static func guess(usage: String) -> ValueCompletion {
        let guessed = guess(from: firstOperand(inUsage: usage))
        return guessed == .none ? .file : guessed
    }

    /// The first placeholder of a usage line that is neither optional nor an option: `FILE|-` in
    /// `tt decode [--strict] FILE|-`.
    public static func firstOperand(inUsage usage: String) -> String? {
        let words = usage.split(separator: " ").dropFirst(2)
        return words.first(where: { !"[(-".contains($0.first!) }).map { String($0.replacing("…", with: "")) }
    }
}
