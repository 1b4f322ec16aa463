//! The setters accept and refuse exactly what the references do: kcp-go's
//! `SetMtu` refuses `mtu <= 24`, ikcp's `ikcp_setmtu` refuses `mtu < 50`,
//! both refuse what does not fit a UDP datagram; `WndSize` ignores values
//! `<= 0`; the ikcp profile keeps `rcv_wnd >= 128`.

use kcp_core::{Config, ConfigError, Profile};

#[test]
fn mtu_bounds_are_the_references() {
    for (profile, smallest) in [(Profile::KcpGo, 25), (Profile::Ikcp, 50)] {
        assert_eq!(profile.min_mtu(), smallest);
        let mut cfg = Config::with_profile(profile);
        assert_eq!(cfg.profile(), profile);

        let err = cfg.set_mtu(smallest - 1).unwrap_err();
        assert_eq!(
            err,
            ConfigError::MtuOutOfRange {
                mtu: smallest - 1,
                min: smallest
            }
        );
        assert_eq!(cfg.mtu(), 1400, "a refused MTU leaves the old one");

        cfg.set_mtu(smallest).unwrap();
        assert_eq!((cfg.mtu(), cfg.mss()), (smallest, smallest - 24));

        cfg.set_mtu(65535).unwrap();
        assert_eq!(cfg.mss(), 65535 - 24);
        assert!(matches!(
            cfg.set_mtu(65536),
            Err(ConfigError::MtuOutOfRange { mtu: 65536, .. })
        ));
        assert!(cfg.set_mtu(0).is_err());
        assert_eq!(cfg.mtu(), 65535);
    }
}

#[test]
fn window_setter_ignores_zero_and_negative_and_takes_one() {
    let mut cfg = Config::new();
    cfg.set_window(0, 0);
    assert_eq!((cfg.snd_wnd(), cfg.rcv_wnd()), (32, 32));
    cfg.set_window(-5, -1);
    assert_eq!((cfg.snd_wnd(), cfg.rcv_wnd()), (32, 32));
    cfg.set_window(1, 1);
    assert_eq!((cfg.snd_wnd(), cfg.rcv_wnd()), (1, 1));
    cfg.set_window(100, 0);
    assert_eq!((cfg.snd_wnd(), cfg.rcv_wnd()), (100, 1));

    let mut ikcp = Config::ikcp();
    assert_eq!((ikcp.snd_wnd(), ikcp.rcv_wnd()), (32, 128));
    ikcp.set_window(1, 1);
    assert_eq!((ikcp.snd_wnd(), ikcp.rcv_wnd()), (1, 128));
    ikcp.set_window(0, 300);
    assert_eq!((ikcp.snd_wnd(), ikcp.rcv_wnd()), (1, 300));
}

#[test]
fn profiles_start_from_their_references_defaults() {
    let go = Config::new();
    assert_eq!(go, Config::default());
    assert_eq!(go.profile(), Profile::KcpGo);
    let c = Config::ikcp();
    assert_eq!(c.profile(), Profile::Ikcp);
    assert_eq!(c, Config::with_profile(Profile::Ikcp));
    assert_ne!(go, c);
}

#[test]
fn nodelay_setter_clamps_the_interval_and_skips_negatives() {
    let mut cfg = Config::new();
    assert_eq!(
        (cfg.nodelay(), cfg.interval(), cfg.resend(), cfg.nc()),
        (0, 100, 0, false)
    );
    cfg.set_nodelay(1, 20, 2, 1);
    assert_eq!(
        (cfg.nodelay(), cfg.interval(), cfg.resend(), cfg.nc()),
        (1, 20, 2, true)
    );
    // Negative: unchanged, each argument on its own.
    cfg.set_nodelay(-1, -1, -1, -1);
    assert_eq!(
        (cfg.nodelay(), cfg.interval(), cfg.resend(), cfg.nc()),
        (1, 20, 2, true)
    );
    cfg.set_nodelay(2, 9, 0, 0);
    assert_eq!(
        (cfg.nodelay(), cfg.interval(), cfg.resend(), cfg.nc()),
        (2, 10, 0, false)
    );
    cfg.set_nodelay(-1, 0, -1, -1);
    assert_eq!(cfg.interval(), 10);
    cfg.set_nodelay(-1, 5001, -1, -1);
    assert_eq!(cfg.interval(), 5000);
    cfg.set_nodelay(-1, 5000, -1, -1);
    assert_eq!((cfg.nodelay(), cfg.interval()), (2, 5000));
}

#[test]
fn max_frag_and_room_setters() {
    let mut cfg = Config::new();
    assert!(matches!(
        cfg.set_max_frag(0),
        Err(ConfigError::MaxFragOutOfRange(0))
    ));
    assert!(matches!(
        cfg.set_max_frag(256),
        Err(ConfigError::MaxFragOutOfRange(256))
    ));
    cfg.set_max_frag(1).unwrap();
    cfg.set_max_frag(255).unwrap();
    cfg.set_headroom(28).set_tailroom(16);
    assert_eq!((cfg.headroom(), cfg.tailroom()), (28, 16));
    assert!(!cfg.stream() && !cfg.ack_nodelay());
    cfg.set_stream(true).set_ack_nodelay(true);
    assert!(cfg.stream() && cfg.ack_nodelay());
}
