//! Replays every scenario of `kcp-traces.json`, recorded from real kcp-go
//! v5.6.72 with a controlled clock, and demands byte equality of every
//! emitted datagram, every return code, every received message, every
//! next-flush delay and the protocol state after every call.

mod common;

use kcp_core::{Config, Kcp, Timestamp};
use serde_json::Value;

fn endpoint(cfg: &Value, conv: u32, clock: u32) -> Kcp {
    let mut c = Config::new();
    let mtu = cfg["mtu"].as_u64().unwrap() as u32;
    if mtu != 1400 {
        c.set_mtu(mtu).unwrap();
    }
    c.set_window(
        cfg["snd_wnd"].as_i64().unwrap() as i32,
        cfg["rcv_wnd"].as_i64().unwrap() as i32,
    );
    c.set_nodelay(
        cfg["nodelay"].as_i64().unwrap() as i32,
        cfg["interval"].as_i64().unwrap() as i32,
        cfg["resend"].as_i64().unwrap() as i32,
        cfg["nc"].as_i64().unwrap() as i32,
    );
    c.set_stream(cfg["stream"].as_bool().unwrap());
    c.set_ack_nodelay(cfg["ack_nodelay"].as_bool().unwrap());
    Kcp::new(conv, c, Timestamp::from_millis(clock))
}

fn state_array(k: &Kcp) -> Vec<i64> {
    let s = k.state();
    vec![
        s.snd_una as i64,
        s.snd_nxt as i64,
        s.rcv_nxt as i64,
        s.rx_srtt as i64,
        s.rx_rttvar as i64,
        s.rx_rto as i64,
        s.cwnd as i64,
        s.ssthresh as i64,
        s.incr as i64,
        s.rmt_wnd as i64,
        s.probe_wait as i64,
        s.ts_probe as i64,
        s.snd_queue as i64,
        s.snd_buf as i64,
        s.rcv_queue as i64,
        s.rcv_buf as i64,
        s.acklist as i64,
    ]
}

fn drain(k: &mut Kcp) -> Vec<String> {
    let mut v = Vec::new();
    while let Some(t) = k.poll_transmit() {
        v.push(hex::encode(t.payload()));
    }
    v
}

struct Replay {
    events: usize,
    datagrams: usize,
    recvs: usize,
}

fn replay(sc: &Value) -> Replay {
    let name = sc["name"].as_str().unwrap();
    let conv = sc["config"]["conv"].as_u64().unwrap() as u32;
    let clock = sc["config"]["initial_clock"].as_u64().unwrap() as u32;
    let mut a = endpoint(&sc["config"]["A"], conv, clock);
    let mut b = endpoint(&sc["config"]["B"], conv, clock);
    let mut stats = Replay {
        events: 0,
        datagrams: 0,
        recvs: 0,
    };
    let mut buf = vec![0u8; 1 << 20];
    for (idx, ev) in sc["events"].as_array().unwrap().iter().enumerate() {
        let t = Timestamp::from_millis(ev["t"].as_u64().unwrap() as u32);
        let k = if ev["ep"] == "A" { &mut a } else { &mut b };
        let op = ev["op"].as_str().unwrap();
        let ctx = format!("{name} event {idx} ({op} on {} at {t})", ev["ep"]);
        let ret: i64 = match op {
            "send" => {
                let data = hex::decode(ev["data"].as_str().unwrap()).unwrap();
                match k.send(&data) {
                    Ok(_) => 0,
                    Err(e) => e.code() as i64,
                }
            }
            "input" => {
                let data = hex::decode(ev["data"].as_str().unwrap()).unwrap();
                match k.input(&data, t) {
                    Ok(()) => 0,
                    Err(e) => e.code() as i64,
                }
            }
            "flush" if ev["why"] == "timer" => {
                // The recorded schedule must be exactly our timer's.
                assert_eq!(k.next_flush(), t, "{ctx}: timer deadline");
                k.handle_timeout(t);
                let delay = k.next_flush().diff(t) as i64;
                if let Some(p) = k.poll_timeout() {
                    assert_eq!(p, k.next_flush(), "{ctx}: poll_timeout");
                }
                delay
            }
            "flush" => k.flush(t) as i64,
            "recv" => match k.recv(&mut buf) {
                Ok(n) => {
                    let want = ev["recv"].as_str().expect("recv payload");
                    assert_eq!(hex::encode(&buf[..n]), want, "{ctx}: received bytes");
                    stats.recvs += 1;
                    n as i64
                }
                Err(e) => {
                    assert!(ev["recv"].is_null(), "{ctx}: expected data");
                    e.code() as i64
                }
            },
            other => panic!("{ctx}: unknown op {other}"),
        };
        assert_eq!(ret, ev["ret"].as_i64().unwrap(), "{ctx}: return value");
        let got = drain(k);
        let want: Vec<String> = ev["out"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got.len(), want.len(), "{ctx}: datagram count");
        for (j, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{ctx}: datagram {j}");
        }
        stats.datagrams += got.len();
        let st: Vec<i64> = ev["st"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(state_array(k), st, "{ctx}: state after the call");
        // The convenience getters read the same recorded variables.
        assert_eq!(
            [k.srtt() as i64, k.rto() as i64, k.conv() as i64],
            [st[3], st[5], conv as i64],
            "{ctx}: srtt, rto, conv"
        );
        stats.events += 1;
    }
    for (ep, k) in [("A", &a), ("B", &b)] {
        let f = &sc["final"][ep];
        let s = k.state();
        assert_eq!(
            s.snd_una as u64,
            f["snd_una"].as_u64().unwrap(),
            "{name} final {ep}"
        );
        assert_eq!(
            s.rcv_nxt as u64,
            f["rcv_nxt"].as_u64().unwrap(),
            "{name} final {ep}"
        );
        assert_eq!(
            k.is_dead(),
            f["state"].as_u64().unwrap() != 0,
            "{name} final {ep}"
        );
    }
    stats
}

#[test]
fn every_kcp_go_trace_replays_byte_for_byte() {
    let doc = common::load_json("kcp-traces.json");
    assert_eq!(doc["format"], "kcp-go-arq-trace/1");
    let scenarios = doc["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 8);
    let mut total = 0;
    for sc in scenarios {
        let r = replay(sc);
        assert_eq!(r.events as u64, sc["stats"]["events"].as_u64().unwrap());
        assert!(r.datagrams > 0 && r.recvs > 0);
        total += r.events;
        eprintln!(
            "{}: {} events, {} datagrams, {} messages: identical",
            sc["name"], r.events, r.datagrams, r.recvs
        );
    }
    assert!(total > 3000);
}
