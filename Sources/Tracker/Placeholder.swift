// Placeholder until the Tracker module lands.
