//! voxgate-control: the bundled control plane of voxgate (static routing
//! first; entry points, flows, queues and agents later). It implements the
//! control-plane trait of `voxgate-edge` and is plugged in by the binary.
