//! Every typed error carries the return code kcp-go (and ikcp) give for the
//! same call, so ports and trace comparisons can map them one to one:
//! `Input` -1 short or foreign conv, -2 truncated, -3 unknown command;
//! `Send` -1 empty, -2 too many fragments; `Recv` -1 empty or incomplete,
//! -2 buffer too small.

use kcp_core::{Config, InputError, Kcp, RecvError, SendError, Timestamp};

fn endpoint() -> Kcp {
    let mut cfg = Config::new();
    cfg.set_mtu(100).unwrap();
    cfg.set_nodelay(1, 10, 0, 1);
    Kcp::new(7, cfg, Timestamp::from_millis(0))
}

/// One PUSH segment header for conv 7 with the given command and length.
fn header(conv: u32, cmd: u8, frg: u8, sn: u32, len: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(24);
    h.extend_from_slice(&conv.to_le_bytes());
    h.extend_from_slice(&[cmd, frg]);
    h.extend_from_slice(&32u16.to_le_bytes()); // wnd
    h.extend_from_slice(&0u32.to_le_bytes()); // ts
    h.extend_from_slice(&sn.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes()); // una
    h.extend_from_slice(&len.to_le_bytes());
    h
}

#[test]
fn input_errors_carry_the_reference_codes() {
    let mut k = endpoint();
    let t = Timestamp::from_millis(1);
    let short = k.input(&[0u8; 23], t).unwrap_err();
    assert_eq!((short, short.code()), (InputError::TooShort, -1));

    let foreign = k.input(&header(8, 81, 0, 0, 0), t).unwrap_err();
    assert_eq!(
        (foreign, foreign.code()),
        (InputError::ConvMismatch { got: 8 }, -1)
    );

    let mut cut = header(7, 81, 0, 0, 10);
    cut.extend_from_slice(&[1; 9]);
    let truncated = k.input(&cut, t).unwrap_err();
    assert_eq!((truncated, truncated.code()), (InputError::Truncated, -2));

    let unknown = k.input(&header(7, 99, 0, 0, 0), t).unwrap_err();
    assert_eq!(
        (unknown, unknown.code()),
        (InputError::UnknownCommand(99), -3)
    );

    // None of them delivered anything.
    assert_eq!(k.peek_size(), Err(RecvError::Empty));
}

#[test]
fn send_errors_carry_the_reference_codes() {
    let mut k = endpoint();
    let empty = k.send(&[]).unwrap_err();
    assert_eq!((empty, empty.code()), (SendError::Empty, -1));

    // mss 76, at most 255 fragments in the kcp-go profile.
    let too_big = k.send(&vec![0u8; 76 * 255 + 1]).unwrap_err();
    assert_eq!(
        (too_big, too_big.code()),
        (
            SendError::TooManyFragments {
                needed: 256,
                max: 255
            },
            -2
        )
    );
    assert_eq!(k.send(&vec![0u8; 76 * 255]), Ok(76 * 255));
}

#[test]
fn recv_errors_carry_the_reference_codes() {
    let mut k = endpoint();
    let t = Timestamp::from_millis(1);
    let mut buf = [0u8; 8];
    let empty = k.recv(&mut buf).unwrap_err();
    assert_eq!((empty, empty.code()), (RecvError::Empty, -1));

    // First fragment of a two-fragment message: incomplete.
    let mut first = header(7, 81, 1, 0, 4);
    first.extend_from_slice(b"abcd");
    k.input(&first, t).unwrap();
    let incomplete = k.recv(&mut buf).unwrap_err();
    assert_eq!((incomplete, incomplete.code()), (RecvError::Incomplete, -1));

    let mut last = header(7, 81, 0, 1, 6);
    last.extend_from_slice(b"efghij");
    k.input(&last, t).unwrap();
    let small = k.recv(&mut buf).unwrap_err();
    assert_eq!(
        (small, small.code()),
        (RecvError::BufferTooSmall { needed: 10 }, -2)
    );
    let mut big = [0u8; 10];
    assert_eq!(k.recv(&mut big), Ok(10));
    assert_eq!(&big, b"abcdefghij");
}
