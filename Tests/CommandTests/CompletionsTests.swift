import Foundation
import TestSupport
import Testing
import TTCommands

/// `tt completions` loaded into the real bash, zsh and fish, each driven without a terminal the way
/// its completion system is (bash: COMP_WORDS and the function `complete -p` names; zsh: an
/// interactive shell on a pseudo-terminal with compadd recorded; fish: `complete -C`).
@Suite struct CompletionsTests {
    /// What a user expects from `tt d<TAB>` and `tt download --<TAB>`, from the specs themselves.
    static let commandsStartingWithD = Set(RootCommand.commands.map { $0.spec.name }.filter { $0.hasPrefix("d") })
    static let downloadLongOptions: Set<String> = {
        let spec = RootCommand.commands.first { $0.spec.name == "download" }!.spec
        return Set(spec.options.flatMap(\.names).filter { $0.hasPrefix("--") })
    }()

    /// A folder holding the script for `shell`, one subfolder and one torrent-looking file to complete.
    func workspace(_ shell: String) throws -> TemporaryDirectory {
        let directory = TemporaryDirectory("tt-completions")
        let result = CLI.run(["completions", shell])
        #expect(result.code == 0, "\(result.stderr)")
        directory.write(shell == "zsh" ? "_tt" : "tt.\(shell)", result.stdout)
        try FileManager.default.createDirectory(atPath: directory.file("downloads"), withIntermediateDirectories: true)
        directory.write("x.torrent", [])
        return directory
    }

    func lines(_ text: String) -> [String] {
        text.split(separator: "\n").map { String($0.split(separator: "\t").first ?? "") }
    }

    @Test func bashCompletesCommandsOptionsFoldersAndChoices() throws {
        guard RealTools.ensure("bash", probe: "/usr/bin/bash") else {
            withKnownIssue("bash is not installed (scripts/install-tools installs it)") { Issue.record("no bash") }
            return
        }
        let directory = try workspace("bash")
        func complete(_ words: [String]) -> [String] {
            let quoted = words.map { "'\($0)'" }.joined(separator: " ")
            let script = """
            source tt.bash; complete -p tt; COMP_WORDS=(\(quoted)); COMP_CWORD=\(words.count - 1)
            _tt; printf '%s\\n' "${COMPREPLY[@]}"
            """
            let result = runCommand("/usr/bin/bash", ["--norc", "--noprofile", "-c", script], timeout: 30, cwd: directory.path)
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.hasPrefix("complete -F _tt tt\n"), "\(result.output)")
            return Array(lines(result.output).dropFirst())
        }
        #expect(Set(complete(["tt", "d"])) == Self.commandsStartingWithD)
        #expect(Set(complete(["tt", "download", "--"])) == Self.downloadLongOptions)
        #expect(complete(["tt", "download", "-o", "d"]) == ["downloads"])
        #expect(complete(["tt", "download", "x"]) == ["x.torrent"])
        #expect(complete(["tt", "announce", "--event", "st"]) == ["started", "stopped"])
        #expect(complete(["tt", "announce", "--event", "=", "c"]) == ["completed"])
        #expect(complete(["tt", "completions", ""]) == ["bash", "zsh", "fish"])
        #expect(complete(["tt", "download", "--max-peers", ""]).isEmpty)
    }

    @Test func zshCompletesCommandsOptionsFoldersAndChoices() throws {
        guard RealTools.ensure("zsh", probe: "/usr/bin/zsh") else {
            withKnownIssue("zsh is not installed (scripts/install-tools installs it)") { Issue.record("no zsh") }
            return
        }
        let directory = try workspace("zsh")
        let harness = directory.write("capture.zsh", Array(Self.zshHarness.utf8))
        func complete(_ line: String) -> [String] {
            let result = runCommand("/usr/bin/zsh", ["-f", harness, directory.path, directory.file("matches"), line],
                                    timeout: 60, cwd: directory.path)
            #expect(result.status == 0, "\(result.output)")
            return lines(result.output)
        }
        #expect(Set(complete("tt d")) == Self.commandsStartingWithD)
        #expect(Set(complete("tt download --")) == Self.downloadLongOptions)
        #expect(complete("tt download -o d").contains("downloads"))
        #expect(!complete("tt download -o d").contains("x.torrent"))
        #expect(complete("tt announce --event st") == ["started", "stopped"])
        #expect(complete("tt completions ") == ["bash", "zsh", "fish"])
    }

    @Test func fishCompletesCommandsOptionsFoldersAndChoices() throws {
        guard RealTools.ensure("fish", probe: "/usr/bin/fish") else {
            withKnownIssue("fish is not installed (scripts/install-tools installs it)") { Issue.record("no fish") }
            return
        }
        let directory = try workspace("fish")
        func complete(_ line: String) -> [String] {
            let result = runCommand("/usr/bin/fish", ["--no-config", "-c", "source tt.fish; complete -C '\(line)'"],
                                    timeout: 30, cwd: directory.path)
            #expect(result.status == 0, "\(result.output)")
            return lines(result.output)
        }
        #expect(Set(complete("tt d")) == Self.commandsStartingWithD)
        #expect(Set(complete("tt download --")) == Self.downloadLongOptions)
        #expect(complete("tt download -o d") == ["downloads/"])
        #expect(complete("tt download x") == ["x.torrent"])
        #expect(complete("tt announce --event st") == ["started", "stopped"])
        #expect(complete("tt completions ") == ["bash", "fish", "zsh"])
    }

    @Test func anUnknownShellIsAUsageError() {
        let result = CLI.run(["completions", "tcsh"])
        #expect(result.code == 64)
        #expect(result.stderr.contains("bash, zsh or fish"))
    }

    /// Runs an interactive zsh on a pseudo-terminal (zpty), loads compinit with the script's folder on
    /// fpath, records every match handed to compadd in a file, types LINE and a TAB, and waits (with a
    /// deadline) for the completion system's last hook to mark the file done.
    static let zshHarness = #"""
    zmodload zsh/zpty
    dir=$1 out=$2 line=$3
    : > $out
    zpty z zsh -f -i
    zpty -w z "PROMPT=''; fpath=($dir \$fpath); autoload -U compinit; compinit -u -d $dir/.zcompdump"
    zpty -w z "compadd() { if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd \"\$@\"; return; fi; local -a __hits; builtin compadd -A __hits \"\$@\"; (( \$#__hits )) && print -rl -- \$__hits >> $out; builtin compadd \"\$@\"; }"
    zpty -w z "_tt_done() { print -r -- '<done>' >> $out }; comppostfuncs=(_tt_done)"
    zpty -w -n z "$line"$'\t'
    for i in {1..400}; do
      zpty -r -t z junk 2>/dev/null
      grep -q '<done>' $out && break
      sleep 0.05
    done
    zpty -d z
    grep -q '<done>' $out || { echo 'zsh did not finish completing' >&2; exit 2 }
    grep -v '<done>' $out
    exit 0
    """#
}
