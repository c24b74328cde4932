"""federation: the 省市县 network — this deployment's identity and signing key, its peers (the
platforms of the other levels), the signed message protocol (protocol.py; docs/federation.md) and
its HTTP transport over the messaging wing's outbox and inbox (transport.py). A top wing: receiving
a forwarded case starts a case here, so it may import every wing below the top one."""
