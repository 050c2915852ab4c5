// Placeholder until the Net module lands.
