// Placeholder until the Swarm module lands.
