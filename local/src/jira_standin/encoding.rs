//! The small decodings the JIRA stand-in needs: query values, and base64 for the Basic
//! credentials it checks (and echoes when told to misbehave).

pub(super) fn percent_decode(s: &str) -> String {
    crate::sigv4::percent_decode(&s.replace('+', " "))
}

/// Standard base64 decoded to text (for echoing Basic credentials), if it is some.
pub(super) fn base64_decode(input: &str) -> Option<String> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in input.bytes().take_while(|c| *c != b'=') {
        let v = T.iter().position(|t| *t == c)? as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Standard base64 (for the Basic credentials the stand-in expects).
pub fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(T[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for text in ["", "a", "ab", "abc", "pao@example.com:jira-token"] {
            assert_eq!(
                base64_decode(&base64(text.as_bytes())).as_deref(),
                Some(text)
            );
        }
    }

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(
            base64(b"dev@example.com:token"),
            "ZGV2QGV4YW1wbGUuY29tOnRva2Vu"
        );
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(percent_decode("labels%20%3D%20%22x%22"), "labels = \"x\"");
        assert_eq!(percent_decode("a+b%"), "a b%");
    }
}
