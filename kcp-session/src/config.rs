//! Session options with kcp-go's names and defaults (spec session.md §9),
//! and kcptun's presets (kcptun-defaults.md §3–§5).

use kcp_crypto::{CryptName, KCPTUN_DEFAULT_PASSPHRASE, kcptun_key};

/// Which cipher frames the datagrams, and its key.
///
/// The key is kcptun's 32-byte master key; each cipher takes the prefix
/// kcptun gives it ([`CryptName::key_len`]). Deriving it from a passphrase
/// (PBKDF2, 4096 rounds) happens once, here, not per session.
///
/// ```
/// use kcp_session::CryptConfig;
/// use kcp_crypto::CryptName;
/// let c = CryptConfig::from_passphrase(CryptName::Aes, "it's a secrect");
/// assert_eq!(c.key[..4], [0x25, 0xd7, 0xd7, 0xbd]);
/// assert_eq!(CryptConfig::null().name, CryptName::Null);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CryptConfig {
    /// kcptun's `--crypt` name (`null` = no crypt header at all).
    pub name: CryptName,
    /// kcptun's 32-byte master key.
    pub key: [u8; 32],
}

impl CryptConfig {
    /// No crypt layer (kcp-go's `block == nil`, kcptun's `null`).
    pub fn null() -> Self {
        CryptConfig {
            name: CryptName::Null,
            key: [0; 32],
        }
    }

    /// `name` with an already derived 32-byte key.
    pub fn new(name: CryptName, key: [u8; 32]) -> Self {
        CryptConfig { name, key }
    }

    /// `name` with the key kcptun derives from `passphrase`.
    pub fn from_passphrase(name: CryptName, passphrase: &str) -> Self {
        CryptConfig {
            name,
            key: kcptun_key(passphrase.as_bytes()),
        }
    }
}

impl core::fmt::Debug for CryptConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print key material.
        f.debug_struct("CryptConfig")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// kcptun's `--mode` presets (kcptun-defaults.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `normal`: nodelay (0, 40, 2, 1).
    Normal,
    /// `fast` (kcptun's default): (0, 30, 2, 1).
    Fast,
    /// `fast2`: (1, 20, 2, 1).
    Fast2,
    /// `fast3`: (1, 10, 2, 1).
    Fast3,
}

impl Mode {
    /// `(nodelay, interval, resend, nc)` of the preset.
    pub const fn nodelay(self) -> (i32, i32, i32, i32) {
        match self {
            Mode::Normal => (0, 40, 2, 1),
            Mode::Fast => (0, 30, 2, 1),
            Mode::Fast2 => (1, 20, 2, 1),
            Mode::Fast3 => (1, 10, 2, 1),
        }
    }
}

/// Everything a session needs, with kcp-go's option names.
///
/// [`SessionConfig::default`] is a bare kcp-go `UDPSession`: nodelay
/// (0, 100, 0, 0), windows 32/32, mtu 1400, message mode, no FEC, no crypt.
/// The mode constructors ([`normal`](Self::normal) … [`fast3`](Self::fast3))
/// are those defaults with kcptun's `--mode` nodelay values;
/// [`kcptun_client`](Self::kcptun_client) / [`kcptun_server`](Self::kcptun_server)
/// reproduce kcptun's whole default setup.
///
/// ```
/// use kcp_session::SessionConfig;
/// let c = SessionConfig::kcptun_client();
/// assert_eq!((c.nodelay, c.interval, c.resend, c.nc), (0, 30, 2, 1));
/// assert_eq!((c.snd_wnd, c.rcv_wnd, c.mtu), (128, 512, 1350));
/// assert_eq!((c.data_shards, c.parity_shards), (10, 3));
/// assert!(c.stream);
/// let f = SessionConfig::fast3().with_fec(10, 3).with_window(128, 128);
/// assert_eq!(f.interval, 10);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// KCP `nodelay` (0 off, 1 on; negative = library default).
    pub nodelay: i32,
    /// Flush interval in ms (clamped to 10..=5000 by KCP).
    pub interval: i32,
    /// Fast-resend threshold (duplicate ACK count, 0 = off).
    pub resend: i32,
    /// 1 = no congestion control.
    pub nc: i32,
    /// Send window in segments.
    pub snd_wnd: u32,
    /// Receive window in segments.
    pub rcv_wnd: u32,
    /// Session MTU: the largest UDP payload, crypt and FEC headers and the
    /// AEAD tag included (capped at 1500). KCP gets what is left (§2.1).
    pub mtu: usize,
    /// KCP stream mode (writes coalesced into full segments).
    pub stream: bool,
    /// Don't flush on write unless the send window is full.
    pub write_delay: bool,
    /// Flush ACKs right after every input that queued some.
    pub ack_nodelay: bool,
    /// FEC data shards (FEC is on when both shard counts are > 0).
    pub data_shards: usize,
    /// FEC parity shards.
    pub parity_shards: usize,
    /// Packet crypto.
    pub crypt: CryptConfig,
    /// Send every datagram this many extra times (kcp-go's `SetDUP`).
    pub dup: usize,
    /// Outgoing rate limit in bytes per second (token bucket, burst
    /// 96 000 bytes as in kcp-go); 0 = unlimited.
    pub rate_limit: u64,
    /// KCP dead-link threshold (transmissions of one segment).
    pub dead_link: u32,
    /// Most received OOB packets kept until read; beyond, they are dropped.
    pub oob_queue: usize,
    /// For the I/O adapter: DSCP value for the socket (TOS = dscp << 2).
    pub dscp: u8,
    /// For the I/O adapters: socket receive buffer size. 0 (the default) =
    /// sized for the receive window: at least `rcv_wnd × mtu` bytes, at most
    /// 4 MiB, raised from the OS default but never lowered (a window of
    /// datagrams arriving in one burst must fit, or most of it is dropped);
    /// the kernel caps any request at `net.core.rmem_max`.
    pub read_buffer: usize,
    /// For the I/O adapters: socket send buffer size. 0 (the default) = sized
    /// for the send window, as `read_buffer` (capped at `net.core.wmem_max`).
    pub write_buffer: usize,
    /// Replay filter of a client [`Connection`](crate::Connection): the
    /// last this-many authenticated datagrams' nonces are remembered and a
    /// repeat is dropped (see [`replay`](crate::replay); `32 ×` this many
    /// bytes, allocated on the first datagram). 0 disables it; ciphers
    /// without a nonce (`null`) have nothing to filter. Sessions of an
    /// [`Endpoint`](crate::Endpoint) use the endpoint's filters instead
    /// ([`EndpointConfig::replay`](crate::EndpointConfig::replay)).
    pub replay_window: usize,
}

/// Default [`SessionConfig::replay_window`]: 2048 datagrams (64 KiB of
/// filter once the first datagram arrives), whole send windows' worth; an
/// older datagram replayed to a client finds KCP past its sequence numbers
/// anyway.
pub const DEFAULT_REPLAY_WINDOW: usize = 2048;

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            nodelay: 0,
            interval: 100,
            resend: 0,
            nc: 0,
            snd_wnd: 32,
            rcv_wnd: 32,
            mtu: 1400,
            stream: false,
            write_delay: false,
            ack_nodelay: false,
            data_shards: 0,
            parity_shards: 0,
            crypt: CryptConfig::null(),
            dup: 0,
            rate_limit: 0,
            dead_link: kcp_core::DEFAULT_DEAD_LINK,
            oob_queue: 64,
            dscp: 0,
            read_buffer: 0,
            write_buffer: 0,
            replay_window: DEFAULT_REPLAY_WINDOW,
        }
    }
}

impl SessionConfig {
    /// kcp-go's defaults with the nodelay values of a kcptun mode.
    pub fn with_mode(mode: Mode) -> Self {
        SessionConfig::default().nodelay(mode.nodelay())
    }

    /// kcptun `--mode normal`.
    pub fn normal() -> Self {
        Self::with_mode(Mode::Normal)
    }

    /// kcptun `--mode fast`.
    pub fn fast() -> Self {
        Self::with_mode(Mode::Fast)
    }

    /// kcptun `--mode fast2`.
    pub fn fast2() -> Self {
        Self::with_mode(Mode::Fast2)
    }

    /// kcptun `--mode fast3`.
    pub fn fast3() -> Self {
        Self::with_mode(Mode::Fast3)
    }

    /// kcptun's client defaults: mode fast, mtu 1350, windows 128/512,
    /// FEC 10/3, `aes` with the default key, stream mode, 4 MiB socket buffers.
    pub fn kcptun_client() -> Self {
        SessionConfig {
            mtu: 1350,
            stream: true,
            crypt: CryptConfig::from_passphrase(CryptName::Aes, KCPTUN_DEFAULT_PASSPHRASE),
            read_buffer: 4 << 20,
            write_buffer: 4 << 20,
            ..Self::fast()
        }
        .with_window(128, 512)
        .with_fec(10, 3)
    }

    /// kcptun's server defaults: as the client's but windows 1024/1024.
    pub fn kcptun_server() -> Self {
        Self::kcptun_client().with_window(1024, 1024)
    }

    /// Sets `(nodelay, interval, resend, nc)`.
    pub fn nodelay(mut self, (nodelay, interval, resend, nc): (i32, i32, i32, i32)) -> Self {
        self.nodelay = nodelay;
        self.interval = interval;
        self.resend = resend;
        self.nc = nc;
        self
    }

    /// Sets the send and receive windows.
    pub fn with_window(mut self, snd_wnd: u32, rcv_wnd: u32) -> Self {
        self.snd_wnd = snd_wnd;
        self.rcv_wnd = rcv_wnd;
        self
    }

    /// Sets the FEC layout (0/0 = off).
    pub fn with_fec(mut self, data_shards: usize, parity_shards: usize) -> Self {
        self.data_shards = data_shards;
        self.parity_shards = parity_shards;
        self
    }

    /// Sets the crypt layer.
    pub fn with_crypt(mut self, crypt: CryptConfig) -> Self {
        self.crypt = crypt;
        self
    }

    /// Sets the session MTU.
    pub fn with_mtu(mut self, mtu: usize) -> Self {
        self.mtu = mtu;
        self
    }

    /// `true` when FEC framing is on for sending (both shard counts > 0).
    pub fn fec_enabled(&self) -> bool {
        self.data_shards > 0 && self.parity_shards > 0
    }
}
