//! The tokio adapter (feature `tokio`): [`KcpListener`] and [`KcpStream`]
//! on tokio UDP sockets, `AsyncRead + AsyncWrite`, driven the way quinn
//! drives quinn-proto.
//!
//! # Tasks and locking
//!
//! Each UDP socket (a listener's, or a dialled stream's own — kcp-go dials
//! one socket per session) gets **one driver task**, spawned on the
//! runtime that created it. The task owns the socket and one
//! `tokio::time::Sleep`; the sans-IO state machine (the listener's
//! [`Endpoint`](crate::Endpoint), the stream's
//! [`Connection`](crate::Connection)) sits behind a `std::sync::Mutex`
//! shared with the handles. A stream operation locks, copies in or out,
//! and either finishes or leaves its task's `Waker` in the session's
//! state; if it produced output (a write, a window update, an OOB
//! datagram, a close) it wakes the driver task. The driver receives
//! batches of datagrams (`recvmmsg` + GRO through `quinn-udp` inside
//! `UdpSocket::try_io`), feeds them under the lock, runs due timers, fills
//! a send batch, collects the wakers of the streams that can now proceed
//! (readable, writable, OOB, ended) and wakes them after unlocking, sends
//! (GSO / `sendmmsg`), and re-arms its single `Sleep` to the state
//! machine's `poll_timeout()`. No channel per datagram, no task or timer
//! per session: an idle endpoint's task sleeps without a deadline.
//!
//! # Backpressure
//!
//! A writer waits while the session's send window is full (kcp-go's
//! `WaitSnd >= snd_wnd`), woken when acknowledgements open it. A reader
//! that falls behind fills its session's receive queue; KCP then
//! advertises a closed window to that peer only: the driver keeps reading
//! the socket for every other session.
//!
//! # Closing and dropping
//!
//! See [`KcpStream`]: `poll_shutdown` stops writing and waits for the
//! acknowledgements (up to [`NetConfig::linger`]); dropping a stream, or
//! [`KcpStream::close`], lingers as the std adapter does. Dropping the
//! listener refuses new peers; its driver task ends when the last
//! accepted stream is released. A driver task whose runtime shuts down
//! first wakes every waiting handle, whose operations then fail with
//! `NotConnected`.
//!
//! Errors are `io::Error`s of the std adapter's kinds: idle timeout →
//! EOF on read, `ConnectionAborted` on write; a listener session replaced
//! by a reconnect → `ConnectionReset`; writes after shutdown →
//! `BrokenPipe`.
//!
//! Needs a runtime with I/O and time enabled (`enable_all()`), current
//! thread or multi-thread.
//!
//! ```
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use kcp_session::SessionConfig;
//! use kcp_session::tokio::{KcpListener, KcpStream};
//!
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async {
//!     // kcptun's `fast3` preset; add `.with_fec(10, 3)` and a cipher as kcptun's flags do.
//!     let cfg = SessionConfig::fast3();
//!     let listener = KcpListener::bind("127.0.0.1:0", cfg.clone()).await?;
//!     let mut client = KcpStream::connect(listener.local_addr(), cfg).await?;
//!     client.write_all(b"ping").await?;
//!     let (mut server, _peer) = listener.accept().await?;
//!     let mut buf = [0u8; 4];
//!     server.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"ping");
//!     Ok::<_, std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod client;
mod driver;
mod listener;
mod session;
mod stream;

pub use crate::net::{IoMode, IoStats, ListenerStats, NetConfig};
pub use listener::KcpListener;
pub use stream::{KcpStream, OwnedReadHalf, OwnedWriteHalf};
