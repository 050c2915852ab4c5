import Glibc
import TTCommands

// A write to a closed socket or pipe must be an error we handle, not a silent death.
signal(SIGPIPE, SIG_IGN)
exit(RootCommand.main(.process()))
