/// `tt completions SHELL`: a completion script for bash, zsh or fish, generated from the command specs.
struct CompletionsCommand: Command {
    static let spec = CommandSpec(
        name: "completions",
        summary: "print a shell completion script (bash, zsh or fish)",
        usage: "tt completions bash|zsh|fish",
        options: [],
        positionals: 1...1,
        discussion: """
        The script completes commands, options, and their values: files, folders, host names or a fixed
        set of words, from the same descriptions 'tt COMMAND --help' prints.
        """,
        examples: [
            "tt completions bash > ~/.local/share/bash-completion/completions/tt",
            "tt completions zsh > ~/.zfunc/_tt        # with fpath+=(~/.zfunc) before compinit",
            "tt completions fish > ~/.config/fish/completions/tt.fish",
        ])

    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        let name = invocation.arguments.positionals[0]
        guard let shell = CompletionScripts.Shell(rawValue: name) else {
            throw .usage("no completions for shell '\(name)'; choose bash, zsh or fish")
        }
        let script = CompletionScripts.script(for: shell, commands: RootCommand.commands.map { $0.spec },
                                              version: RootCommand.version)
        invocation.output(script)
        return .success
    }
}
