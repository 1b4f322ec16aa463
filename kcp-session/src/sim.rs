//! [`kcp_core::sim::Endpoint`] for [`Connection`]: run whole sessions
//! (crypto and FEC included) through the deterministic simulator.

use kcp_core::Timestamp;
use kcp_core::sim::Endpoint;

use crate::Connection;

impl Endpoint for Connection {
    fn handle_input(&mut self, datagram: &[u8], now: Timestamp) {
        // The simulator lends datagrams read-only; decryption is in place.
        let mut rx = std::mem::take(&mut self.sim_rx);
        rx.clear();
        rx.extend_from_slice(datagram);
        self.handle_datagram(now, &mut rx);
        self.sim_rx = rx;
    }

    fn poll_transmit(&mut self, now: Timestamp, buf: &mut [u8]) -> Option<usize> {
        Connection::poll_transmit(self, now, buf)
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        Connection::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        Connection::handle_timeout(self, now)
    }

    fn max_datagram_size(&self) -> usize {
        // The simulator sizes its buffer once; `set_mtu` may raise the MTU
        // later, up to kcp-go's limit.
        kcp_fec::MTU_LIMIT
    }
}

#[cfg(test)]
mod tests {
    use kcp_core::Timestamp;
    use kcp_core::sim::{LinkConfig, Sim, SimConfig};

    use crate::{Connection, CryptConfig, CryptName, SessionConfig};

    #[test]
    fn a_connection_pair_runs_in_the_simulator() {
        let cfg = SessionConfig::fast3()
            .with_fec(10, 3)
            .with_crypt(CryptConfig::new(CryptName::Salsa20, [1; 32]));
        let t0 = Timestamp::from_millis(0);
        let a = Connection::connect(5, &cfg, t0).unwrap();
        let b = Connection::accept(5, &cfg, t0).unwrap();
        let mut sim = Sim::with_config(
            a,
            b,
            SimConfig::new().seed(1).link(LinkConfig::lossy(0.1, 10)),
        );
        let msg: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        sim.a_mut().send(&msg).unwrap();
        assert!(sim.run_until_idle(60_000));
        let mut got = Vec::new();
        let mut buf = vec![0u8; 2048];
        while let Ok(n) = sim.b_mut().recv(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, msg);
    }
}
