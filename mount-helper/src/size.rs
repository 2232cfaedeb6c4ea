//! Byte sizes as users write them: 4G, 512M, 100k, 1.5G, 4GiB, 123.

/// The smallest RAM budget: below it not even a few files fit (each costs about 1 KiB), and
/// the mount's statfs would show a size of 0 blocks.
pub const MIN_BUDGET: u64 = 1 << 20;

/// Parses a RAM budget; suffixes K, M, G, T, P, E (optionally followed by "iB" or "B") are
/// powers of 1024.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let digits_end = lower.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits_end);
    let unit = unit.trim();
    let mult: u64 = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        "e" => 1 << 60,
        _ => {
            return Err(format!("size {s:?} has an unknown unit; write it like 4G, 512M or 100000"));
        }
    };
    let not_a_number = || format!("size {s:?} is not a number; write it like 4G, 512M or 100000");
    // Whole numbers exactly (a float would round large ones), fractions through a float.
    let bytes: u128 = match num.parse::<u128>() {
        Ok(n) => n.saturating_mul(u128::from(mult)),
        Err(_) => {
            let value: f64 = num.parse().map_err(|_| not_a_number())?;
            if !value.is_finite() {
                return Err(not_a_number());
            }
            (value * mult as f64) as u128
        }
    };
    if bytes < u128::from(MIN_BUDGET) {
        return Err(format!(
            "size {s:?} is below 1M, too small to hold files (each costs about 1 KiB of it); give at least 1M, like 512M"
        ));
    }
    u64::try_from(bytes).ok().filter(|b| *b < u64::MAX).ok_or_else(|| {
        format!("size {s:?} is too large; give less than 16E (sizes are in bytes, or with K, M, G, T, P, E)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("1024k"), Ok(1 << 20));
        assert!(parse_size("4X").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("0").unwrap_err().contains("below 1M"));
        assert!(parse_size("1K").unwrap_err().contains("below 1M"));
        assert_eq!(parse_size("1M"), Ok(MIN_BUDGET));
        assert_eq!(parse_size("15E"), Ok(15 << 60));
        assert!(parse_size("16E").unwrap_err().contains("less than 16E"));
        assert!(parse_size("18446744073709551615").unwrap_err().contains("too large"));
        assert!(parse_size("99999999999999999999").unwrap_err().contains("too large"));
        assert_eq!(parse_size("18446744073709551614"), Ok(u64::MAX - 1));
    }
}
