//! Docker's object ids: 64 hex digits from 32 random bytes.

/// A new 64-hex-digit container id, as Docker makes them.
pub fn new_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}
