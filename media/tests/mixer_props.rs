//! The mixer fuzz target's properties (media/fuzz/fuzz_targets/mixer_ops.rs)
//! on seeded random scripts, so CI checks them without cargo-fuzz. A failing
//! seed is printed and replays exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../fuzz/fuzz_targets/mixer_ops.rs"]
mod mixer_ops;

/// A seeded xorshift.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Scripts biased towards what matters: joins first, then mostly one
/// packet per participant per 20 ms clock step (each near the last one it
/// sent: in order, repeated, skipped, behind, far ahead), so frames play out.
fn script(rng: &mut Rng) -> Vec<u8> {
    let mut data = vec![(rng.next() % 8) as u8];
    let joined = 3 + rng.next() % 14;
    for id in 0..joined as u8 {
        data.extend([
            if rng.next().is_multiple_of(2) {
                0
            } else {
                0x80
            },
            id,
        ]);
        data.extend(rng.next().to_be_bytes()[..6].iter());
    }
    for _ in 0..rng.next() % 3000 {
        let r = rng.next();
        let op = if r.is_multiple_of(joined + 1) {
            7
        } else {
            match (r >> 40) % 100 {
                0..=87 => 6,
                88..=91 => 4,
                92..=93 => 2 | (r as u8 & 0x80),
                94..=95 => 3 | (r as u8 & 0xe0),
                96..=97 => r as u8 & 0xe0, // a join: op 0 with its flags
                _ => 1,
            }
        };
        // Ids a little past the joined ones: refused packets, later joins.
        data.extend([op, ((r >> 8) % (joined + 2)) as u8]);
        match op % 8 {
            0 => data.extend((r >> 16).to_be_bytes()[..6].iter()),
            4 | 5 => data.extend(rng.next().to_be_bytes()[..7].iter()),
            6 => data.push([1u8, 1, 1, 1, 1, 1, 1, 0, 2, 0xff, 0xfd, 9][(r >> 16) as usize % 12]),
            7 => data.push(if (r >> 24) & 0x3f == 0 {
                (r >> 32) as u8
            } else {
                20
            }),
            _ => {}
        }
    }
    data
}

#[test]
fn seeded_scripts_keep_the_properties() {
    for seed in 1..=100u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let data = script(&mut rng);
        let outcome = std::panic::catch_unwind(|| mixer_ops::run(&data));
        assert!(outcome.is_ok(), "seed {seed} fails ({} bytes)", data.len());
    }
}

#[test]
fn arbitrary_bytes_keep_the_properties() {
    let mut rng = Rng(0x5eed);
    for _ in 0..500 {
        let len = (rng.next() % 600) as usize;
        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        mixer_ops::run(&data);
    }
}
