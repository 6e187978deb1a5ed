//! UDP, TCP and TLS transports (RFC 3261 §18). Filled in by the transport work.
