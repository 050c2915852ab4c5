// Placeholder until the PeerWire module lands.
