//! Listener sockets, created with socket2 so the options are set before bind.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use super::{ListenerSpec, TransportError};

/// Pending connections the kernel may queue on a TCP/TLS listener.
const LISTEN_BACKLOG: i32 = 1024;

fn configured(spec: &ListenerSpec, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let addr = spec.address;
    let socket = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    // Restarts must not wait for TIME_WAIT sockets of the previous process.
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // One socket per family: a v6 wildcard must not swallow the v4 port.
        socket.set_only_v6(true)?;
    }
    if let Some(n) = spec.recv_buffer {
        socket.set_recv_buffer_size(n)?;
    }
    if let Some(n) = spec.send_buffer {
        socket.set_send_buffer_size(n)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// A bound, nonblocking UDP socket registered with tokio.
pub(crate) fn bind_udp(spec: &ListenerSpec) -> Result<tokio::net::UdpSocket, TransportError> {
    let bind = || -> io::Result<tokio::net::UdpSocket> {
        let socket = configured(spec, Type::DGRAM, Protocol::UDP)?;
        tokio::net::UdpSocket::from_std(socket.into())
    };
    bind().map_err(|source| bind_error(spec.address, source))
}

/// A listening, nonblocking TCP socket registered with tokio.
pub(crate) fn bind_tcp(spec: &ListenerSpec) -> Result<tokio::net::TcpListener, TransportError> {
    let bind = || -> io::Result<tokio::net::TcpListener> {
        let socket = configured(spec, Type::STREAM, Protocol::TCP)?;
        socket.listen(LISTEN_BACKLOG)?;
        tokio::net::TcpListener::from_std(socket.into())
    };
    bind().map_err(|source| bind_error(spec.address, source))
}

fn bind_error(addr: SocketAddr, source: io::Error) -> TransportError {
    TransportError::Bind { addr, source }
}
