//! Request bodies too large, compressed into bombs, or nested too deep.

use reqwest::StatusCode;

use super::{JSON, read, targets};
use crate::helpers::{PASSWORD, TestApp, admin_settings, backend_test};

/// A minimal gzip stream of `size` spaces: one fixed-Huffman deflate block of
/// a literal and back-references of 258 bytes at distance 1, about 13 bits
/// each (a decompression bomb of ratio ~160).
fn gzip_of_spaces(size: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u32,
        n: u32,
    }
    impl Bits {
        fn put(&mut self, value: u32, count: u32) {
            self.acc |= value << self.n;
            self.n += count;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u32, count: u32) {
            let reversed = code.reverse_bits() >> (32 - count);
            self.put(reversed, count);
        }
    }
    assert!(
        size >= 1 && (size - 1).is_multiple_of(258),
        "1 + 258·k bytes"
    );
    let mut bits = Bits {
        out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff],
        acc: 0,
        n: 0,
    };
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // fixed Huffman
    bits.code(0x30 + u32::from(b' '), 8); // literal ' '
    for _ in 0..(size - 1) / 258 {
        bits.code(0b1100_0101, 8); // length 258 (symbol 285)
        bits.code(0, 5); // distance 1
    }
    bits.code(0, 7); // end of block
    if bits.n > 0 {
        bits.put(0, 8 - bits.n);
    }
    let mut crc = !0u32;
    for _ in 0..size {
        crc ^= u32::from(b' ');
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    let mut out = bits.out;
    out.extend_from_slice(&(!crc).to_le_bytes());
    out.extend_from_slice(&(size as u32).to_le_bytes());
    out
}

backend_test!(large_and_deep_bodies_are_refused, admin_settings());
async fn large_and_deep_bodies_are_refused(app: TestApp) {
    let (targets, _admin, _user) = targets(&app).await;
    let too_large = "payload_too_large";
    for target in &targets {
        use StatusCode as S;
        let big = format!(
            r#"{{"email":"x@example.com","password":"{}"}}"#,
            "x".repeat(16 * 1024)
        );
        target
            .refused(
                &app,
                Some(JSON),
                big,
                S::PAYLOAD_TOO_LARGE,
                too_large,
                "16 KiB + 1",
            )
            .await;
        let huge = vec![b' '; 1024 * 1024];
        target
            .refused(
                &app,
                Some(JSON),
                huge,
                S::PAYLOAD_TOO_LARGE,
                too_large,
                "1 MiB",
            )
            .await;
        // A gzip bomb: 6 KiB on the wire, 1 MiB once inflated.
        let bomb = gzip_of_spaces(1 + 258 * 4064);
        assert!(bomb.len() < 8 * 1024, "the bomb is small: {}", bomb.len());
        let what = format!("{} {}: gzip bomb", target.name, target.path);
        let response = target
            .send(&app, Some(JSON), &[("content-encoding", b"gzip")], bomb)
            .await;
        read(response, &what)
            .await
            .error(S::PAYLOAD_TOO_LARGE, too_large, &what);
        // Not gzip at all, though it says so.
        let what = format!("{} {}: false gzip", target.name, target.path);
        let response = target
            .send(
                &app,
                Some(JSON),
                &[("content-encoding", b"gzip")],
                target.base().into_bytes(),
            )
            .await;
        read(response, &what)
            .await
            .error(S::BAD_REQUEST, "invalid_request", &what);

        // Deep nesting: a 400, not a stack overflow.
        let arrays = "[".repeat(10_000);
        target
            .refused(
                &app,
                Some(JSON),
                arrays,
                S::BAD_REQUEST,
                "invalid_request",
                "10 000 open arrays",
            )
            .await;
        let balanced = format!("{}{}", "[".repeat(8_000), "]".repeat(8_000));
        target
            .refused(
                &app,
                Some(JSON),
                balanced,
                S::BAD_REQUEST,
                "invalid_request",
                "8 000 nested arrays",
            )
            .await;
        let objects = format!("{}1{}", r#"{"a":"#.repeat(2_000), "}".repeat(2_000));
        target
            .refused(
                &app,
                Some(JSON),
                objects,
                S::BAD_REQUEST,
                "invalid_request",
                "2 000 nested objects",
            )
            .await;
    }
    // Deep nesting inside a member no endpoint reads: the whole body is
    // parsed first, with a bounded depth, so it is a 400 everywhere (and no
    // stack overflow).
    let [login, register, password, update, create] = &targets[..] else {
        unreachable!()
    };
    let nested = |email: &str| {
        format!(
            r#"{{"x":{}{},"email":"{email}","password":"{PASSWORD}","current_password":"wrong password","new_password":"{PASSWORD} 2"}}"#,
            "[".repeat(7_000),
            "]".repeat(7_000)
        )
    };
    let fresh = || format!("nested-{}@example.com", uuid::Uuid::new_v4().simple());
    let what = "nested unknown field";
    for target in [login, register, password] {
        target.json(&app, nested(&fresh()), what).await.error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            what,
        );
    }
    for target in [update, create] {
        target.json(&app, nested(&fresh()), what).await.error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            what,
        );
    }
}
