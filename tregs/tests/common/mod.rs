//! What several of tregs's tests share.

/// A reproducible stream of 64-bit words: xorshift64 (13, 7, 17), the seed spread by the
/// golden-ratio multiplier and made odd so that no seed gives the all-zero state. Each test
/// maps the words to the values it needs.
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
