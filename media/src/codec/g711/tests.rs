use super::*;

/// ITU-T G.191 STL `ulaw_compress`, ported line by line (the reference).
fn reference_ulaw_compress(x: i16) -> u8 {
    let mut absno: i16 = if x < 0 { (!x >> 2) + 33 } else { (x >> 2) + 33 };
    if absno > 0x1fff {
        absno = 0x1fff;
    }
    let mut i = absno >> 6;
    let mut segno: i16 = 1;
    while i != 0 {
        segno += 1;
        i >>= 1;
    }
    let high = 8 - segno;
    let low = 15 - ((absno >> segno) & 0x0f);
    let mut out = (high << 4) | low;
    if x >= 0 {
        out |= 0x80;
    }
    out as u8
}

/// ITU-T G.191 STL `alaw_compress`, ported line by line (the reference).
fn reference_alaw_compress(x: i16) -> u8 {
    let mut ix: i16 = if x < 0 { !x >> 4 } else { x >> 4 };
    if ix > 15 {
        let mut iexp = 1;
        while ix > 16 + 15 {
            ix >>= 1;
            iexp += 1;
        }
        ix -= 16;
        ix += iexp << 4;
    }
    if x >= 0 {
        ix |= 0x80;
    }
    (ix ^ 0x55) as u8
}

#[test]
fn encode_matches_the_g191_reference_for_every_16_bit_value() {
    for x in i16::MIN..=i16::MAX {
        assert_eq!(linear_to_ulaw(x), reference_ulaw_compress(x), "µ-law {x}");
        assert_eq!(linear_to_alaw(x), reference_alaw_compress(x), "A-law {x}");
        // The frame encoders' lookup tables agree.
        let (mut u, mut a) = ([0u8], [0u8]);
        encode_ulaw(&[x], &mut u);
        encode_alaw(&[x], &mut a);
        assert_eq!(u[0], reference_ulaw_compress(x), "µ-law table {x}");
        assert_eq!(a[0], reference_alaw_compress(x), "A-law table {x}");
    }
}

/// G.711 Table 2: µ-law segment s, step q decodes to ±((2q + 33)·2^s − 33)
/// in 14-bit units (×4 for 16-bit); the code is sent inverted.
#[test]
fn every_ulaw_code_decodes_to_its_g711_value() {
    for code in 0..=255u8 {
        let inv = !code;
        let s = i32::from((inv >> 4) & 7);
        let q = i32::from(inv & 0x0f);
        let magnitude = 4 * (((2 * q + 33) << s) - 33);
        let want = if code & 0x80 != 0 {
            magnitude
        } else {
            -magnitude
        };
        assert_eq!(i32::from(ulaw_to_linear(code)), want, "code {code:#04x}");
    }
    // The table's corners: ±8031·4 at the ends, 0 (both signs) in the middle.
    assert_eq!(ulaw_to_linear(0x80), 32124);
    assert_eq!(ulaw_to_linear(0x00), -32124);
    assert_eq!(ulaw_to_linear(0xff), 0);
    assert_eq!(ulaw_to_linear(0x7f), 0);
    assert_eq!(ulaw_to_linear(0xfe), 8);
}

/// G.711 Table 1: A-law segment 0 decodes to ±(2q + 1), segment s ≥ 1 to
/// ±(2q + 33)·2^(s−1) (13-bit units, ×8 for 16-bit); even bits inverted.
#[test]
fn every_alaw_code_decodes_to_its_g711_value() {
    for code in 0..=255u8 {
        let ix = (code ^ 0x55) & 0x7f;
        let s = i32::from(ix >> 4);
        let q = i32::from(ix & 0x0f);
        let magnitude = if s == 0 {
            8 * (2 * q + 1)
        } else {
            8 * ((2 * q + 33) << (s - 1))
        };
        let want = if code & 0x80 != 0 {
            magnitude
        } else {
            -magnitude
        };
        assert_eq!(i32::from(alaw_to_linear(code)), want, "code {code:#04x}");
    }
    assert_eq!(alaw_to_linear(0xd5), 8);
    assert_eq!(alaw_to_linear(0x55), -8);
    assert_eq!(alaw_to_linear(0xaa), 32256);
    assert_eq!(alaw_to_linear(0x2a), -32256);
}

#[test]
fn decode_then_encode_gives_the_code_back() {
    for code in 0..=255u8 {
        assert_eq!(linear_to_alaw(alaw_to_linear(code)), code);
        // µ-law's "−0" (0x7f) decodes to 0, which encodes as "+0" (0xff).
        let back = linear_to_ulaw(ulaw_to_linear(code));
        assert_eq!(back, if code == 0x7f { 0xff } else { code });
    }
}

#[test]
fn direct_conversion_follows_g711_tables_3_and_4() {
    // Table 3 rows: µ magnitude codes 0/1 → A 1, 32 → 25, 127 → 128 (1-based).
    // Here as wire codes (inverted, sign bit set = positive).
    let mut p = [0xff, 0xfe, 0x80, 0x7f, 0x00];
    ulaw_to_alaw_in_place(&mut p);
    assert_eq!(p, [0xd5, 0xd5, 0xaa, 0x55, 0x2a]);
    let mut a = [0xd5, 0x55, 0xaa, 0x2a];
    alaw_to_ulaw_in_place(&mut a);
    assert_eq!(a, [0xfe, 0x7e, 0x80, 0x00]);
    // Every conversion keeps the sign and lands within one A-law/µ-law step
    // of the value it came from.
    for c in 0..=255u8 {
        let u = ulaw_to_linear(c);
        let mut x = [c];
        ulaw_to_alaw_in_place(&mut x);
        let a = alaw_to_linear(x[0]);
        assert!(u == 0 || (u > 0) == (a > 0), "µ {c:#04x}");
        assert!(
            (i32::from(u) - i32::from(a)).abs() <= 1024,
            "µ {c:#04x}: {u} vs {a}"
        );
        let a = alaw_to_linear(c);
        let mut y = [c];
        alaw_to_ulaw_in_place(&mut y);
        let u = ulaw_to_linear(y[0]);
        assert_eq!((u > 0), (a > 0), "A {c:#04x}");
        assert!(
            (i32::from(u) - i32::from(a)).abs() <= 1024,
            "A {c:#04x}: {u} vs {a}"
        );
    }
}

#[test]
fn codec_round_trips_a_tone_and_checks_buffers() {
    let mut mu = G711::new(Law::Mu);
    let mut a = G711::new(Law::A);
    let pcm: Vec<i16> = (0..160)
        .map(|n| {
            (10_000.0 * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / 8000.0).sin()) as i16
        })
        .collect();
    for codec in [&mut mu, &mut a] {
        let mut payload = [0u8; 160];
        assert_eq!(codec.encode(&pcm, &mut payload), Ok(160));
        let mut back = [0i16; 160];
        assert_eq!(codec.decode(&payload, &mut back), Ok(160));
        for (x, y) in pcm.iter().zip(back) {
            // G.711's worst quantisation error at 10 000 is half a 512 step.
            assert!((i32::from(*x) - i32::from(y)).abs() <= 512, "{x} vs {y}");
        }
        assert_eq!(
            codec.decode(&payload, &mut [0i16; 10]),
            Err(MediaError::BufferTooSmall {
                needed: 160,
                available: 10
            })
        );
        assert_eq!(
            codec.encode(&pcm, &mut [0u8; 10]),
            Err(MediaError::BufferTooSmall {
                needed: 160,
                available: 10
            })
        );
    }
}
