//! money: exact arithmetic on `Decimal` and the one rounding rule. Amounts stay exact
//! everywhere; `to_cents` is the only place a value is rounded, when a journal or a
//! table renders it. Depends on nothing else in the crate.

use rust_decimal::{Decimal, RoundingStrategy};

/// Decimal places of the currency's minor unit.
pub const CENT_PLACES: u32 = 2;

/// Rounds an exact amount to cents, half away from zero (2.345 → 2.35, −2.345 → −2.35).
/// `Decimal::round` rounds half to even and is banned by `clippy.toml`.
pub fn to_cents(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(CENT_PLACES, RoundingStrategy::MidpointAwayFromZero)
}

/// `a + b`, or `None` when the exact sum does not fit: `Decimal` would otherwise
/// drop decimal places silently to make room.
pub fn exact_add(a: Decimal, b: Decimal) -> Option<Decimal> {
    let sum = a.checked_add(b)?;
    // The exact sum needs no more places than the longer operand; a result kept to at
    // least that many places is exact. Only a sum that dropped places needs the
    // operands normalised to tell whether the dropped places were zeros.
    if sum.scale() >= a.scale().max(b.scale()) {
        return Some(sum);
    }
    let needed = a.normalize().scale().max(b.normalize().scale());
    (sum.scale() >= needed).then_some(sum)
}

/// The exact sum of `amounts`, or `None` as soon as it would not fit.
pub fn exact_sum(amounts: impl IntoIterator<Item = Decimal>) -> Option<Decimal> {
    amounts.into_iter().try_fold(Decimal::ZERO, exact_add)
}

/// `a - b`, exact or `None`, as [`exact_add`].
pub fn exact_sub(a: Decimal, b: Decimal) -> Option<Decimal> {
    exact_add(a, -b)
}

/// `a × b`, or `None` when the exact product does not fit in `Decimal`'s 96-bit
/// mantissa and 28 decimal places.
pub fn exact_mul(a: Decimal, b: Decimal) -> Option<Decimal> {
    if a.is_zero() || b.is_zero() {
        return Some(Decimal::ZERO);
    }
    let product = a.checked_mul(b)?;
    // The exact product needs at most the operands' places added together (normalised
    // only when the product kept fewer than the operands carry).
    if product.scale() >= a.scale() + b.scale() {
        return Some(product);
    }
    let needed = a.normalize().scale() + b.normalize().scale();
    (product.scale() >= needed).then_some(product)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn to_cents_rounds_half_away_from_zero() {
        assert_eq!(to_cents(d("2.345")), d("2.35"));
        assert_eq!(to_cents(d("-2.345")), d("-2.35"));
        assert_eq!(to_cents(d("2.355")), d("2.36"));
        assert_eq!(to_cents(d("2.3449999")), d("2.34"));
        assert_eq!(to_cents(d("0.125")), d("0.13"));
    }

    #[test]
    fn exact_mul_keeps_every_decimal_place() {
        assert_eq!(exact_mul(d("2.5"), d("1.10")), Some(d("2.750")));
        assert_eq!(exact_mul(d("0.001"), d("0.001")), Some(d("0.000001")));
        assert_eq!(exact_mul(d("0"), d("1.25")), Some(d("0")));
        assert_eq!(exact_mul(d("0.5"), d("2")), Some(d("1")));
    }

    #[test]
    fn exact_mul_refuses_a_product_that_would_lose_places() {
        // 28 significant digits each: the exact product needs 56.
        let big = Decimal::from_str("1.234567890123456789012345678").unwrap();
        assert_eq!(exact_mul(big, big), None);
        assert_eq!(exact_mul(Decimal::MAX, d("2")), None);
    }

    #[test]
    fn exact_add_refuses_a_sum_that_would_lose_places() {
        let huge = d("79228162514264337593543950335");
        assert_eq!(exact_add(huge, d("0.5")), None);
        assert_eq!(exact_add(d("1.25"), d("2")), Some(d("3.25")));
        assert_eq!(exact_add(d("1.50"), d("0.000")), Some(d("1.5")));
        assert_eq!(exact_add(d("0.00"), d("0.105")), Some(d("0.105")));
        assert_eq!(exact_sub(d("1.25"), d("2")), Some(d("-0.75")));
        assert_eq!(exact_sum([d("0.1"), d("0.25"), d("3")]), Some(d("3.35")));
        assert_eq!(exact_sum([huge, d("0.5")]), None);
    }
}
