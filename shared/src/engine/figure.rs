//! Figures kept as integers while a plain stream's sales are costed one after another.
//!
//! A `Decimal` is written field by field and read back whole, and the processor then
//! waits for the write on every read: where one sale's result is the next sale's
//! operand (what is on hand, what the pool is worth), that wait is most of the cost.
//! A [`Figure`] is the same number as a mantissa and a scale. Its operations give
//! exactly what [`exact_add`], [`exact_sub`] and [`exact_mul`] give, value and places
//! alike, or `None` wherever they might not (beyond 64 bits, or a zero whose sign
//! `Decimal` keeps); the caller then goes on in `Decimal`s.
//!
//! [`exact_add`]: crate::money::exact_add
//! [`exact_sub`]: crate::money::exact_sub
//! [`exact_mul`]: crate::money::exact_mul

use std::cmp::Ordering;

use rust_decimal::Decimal;

/// The most places a `Decimal` keeps.
const MAX_SCALE: u32 = 28;

/// The powers of ten a 64-bit mantissa can be scaled by.
const POWERS_OF_TEN: [i64; 19] = {
    let mut powers = [1; 19];
    let mut index = 1;
    while index < powers.len() {
        powers[index] = powers[index - 1] * 10;
        index += 1;
    }
    powers
};

/// A number as a 64-bit mantissa and its places: two registers, where a `Decimal`
/// mantissa would take 96 bits. Costing's running figures fit it; one that does not is
/// left to `Decimal`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Figure {
    pub(super) mantissa: i64,
    pub(super) scale: u32,
}

impl Figure {
    /// `Decimal::ZERO`: no places.
    pub(super) const ZERO: Self = Self { mantissa: 0, scale: 0 };

    /// `None` for a mantissa beyond 64 bits, or a negative zero (whose sign a figure does
    /// not keep).
    pub(super) fn of(value: Decimal) -> Option<Self> {
        let mantissa = i64::try_from(value.mantissa()).ok()?;
        (!(mantissa == 0 && value.is_sign_negative())).then_some(Self { mantissa, scale: value.scale() })
    }

    pub(super) fn new(mantissa: i64, scale: u32) -> Option<Self> {
        (scale <= MAX_SCALE).then_some(Self { mantissa, scale })
    }

    /// As `Decimal::new` makes it, but built where it is used: `Decimal::new` is not
    /// inlined, and its result, stored field by field, is read back whole, a load the
    /// processor cannot forward from those stores (under perf, most of a sale's draw
    /// under the moving average waited on it).
    pub(super) fn decimal(self) -> Decimal {
        let digits = self.mantissa.unsigned_abs();
        let (low, middle) = (digits as u32, (digits >> 32) as u32);
        Decimal::from_parts(low, middle, 0, self.mantissa < 0, self.scale)
    }

    pub(super) fn is_zero(self) -> bool {
        self.mantissa == 0
    }

    /// The mantissa at `scale` places (at least the figure's own), if it fits 64 bits.
    fn at_scale(self, scale: u32) -> Option<i64> {
        let places = scale - self.scale;
        if places == 0 {
            return Some(self.mantissa);
        }
        self.mantissa.checked_mul(*POWERS_OF_TEN.get(places as usize)?)
    }

    /// `exact_add`: `Decimal` hands back the other operand whole where one is zero, and
    /// otherwise adds at the longer operand's places.
    pub(super) fn add(self, other: Self) -> Option<Self> {
        if self.is_zero() {
            return Some(other);
        }
        if other.is_zero() {
            return Some(self);
        }
        let scale = self.scale.max(other.scale);
        Self::new(self.at_scale(scale)?.checked_add(other.at_scale(scale)?)?, scale)
    }

    /// `exact_sub`, which adds the negated operand (a zero taken from a zero is a
    /// negative zero there: `None`).
    pub(super) fn sub(self, other: Self) -> Option<Self> {
        if other.is_zero() {
            return (!self.is_zero()).then_some(self);
        }
        self.add(Self { mantissa: other.mantissa.checked_neg()?, scale: other.scale })
    }

    /// `exact_mul`: zero without places where either operand is zero, else the product
    /// at the operands' places added together.
    pub(super) fn mul(self, other: Self) -> Option<Self> {
        if self.is_zero() || other.is_zero() {
            return Some(Self::ZERO);
        }
        Self::new(self.mantissa.checked_mul(other.mantissa)?, self.scale + other.scale)
    }

    /// The order of the two numbers, where both fit 64 bits at the longer places.
    pub(super) fn compare(self, other: Self) -> Option<Ordering> {
        let scale = self.scale.max(other.scale);
        Some(self.at_scale(scale)?.cmp(&other.at_scale(scale)?))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::money::{exact_add, exact_mul, exact_sub};

    /// Decimals as costing meets them: zeros (of either sign) and mantissas beyond 64
    /// bits included, at up to 28 places.
    fn any_decimal() -> impl Strategy<Value = Decimal> {
        let mantissa = prop_oneof![
            Just(0_i128),
            -1_000_000_i128..1_000_000,
            (-(1_i128 << 62))..(1_i128 << 62),
            prop_oneof![Just(i128::from(i64::MAX)), Just(i128::from(i64::MIN)), Just(i128::from(i64::MIN) - 1)],
            (-(1_i128 << 95))..(1_i128 << 95),
            prop_oneof![Just((1_i128 << 96) - 1), Just(-((1_i128 << 96) - 1))],
        ];
        (mantissa, 0_u32..=28, any::<bool>()).prop_map(|(mantissa, scale, negative_zero)| {
            let value = Decimal::from_i128_with_scale(mantissa, scale);
            if mantissa == 0 && negative_zero { -value } else { value }
        })
    }

    /// A figure's result as text (places and sign shown), to compare with a `Decimal`'s.
    fn text(figure: Option<Figure>) -> Option<String> {
        figure.map(|figure| format!("{:?}", figure.decimal()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn a_figure_adds_subtracts_and_multiplies_as_decimal_does_to_the_last_place(
            a in any_decimal(),
            b in any_decimal(),
        ) {
            let (Some(x), Some(y)) = (Figure::of(a), Figure::of(b)) else {
                let no_figure = |d: Decimal| d.is_zero() && d.is_sign_negative() || i64::try_from(d.mantissa()).is_err();
                prop_assert!(no_figure(a) || no_figure(b));
                return Ok(());
            };
            prop_assert_eq!(format!("{:?}", x.decimal()), format!("{a:?}"));
            prop_assert_eq!(x.decimal().serialize(), Decimal::new(x.mantissa, x.scale).serialize(), "bit for bit");
            let decimal = |result: Option<Decimal>| result.map(|value| format!("{value:?}"));
            // Where a figure gives a result, it is the Decimal's, places and all.
            for (figure, exact) in [
                (x.add(y), exact_add(a, b)),
                (x.sub(y), exact_sub(a, b)),
                (x.mul(y), exact_mul(a, b)),
            ] {
                if figure.is_some() {
                    prop_assert_eq!(text(figure), decimal(exact));
                }
            }
            if let Some(order) = x.compare(y) {
                prop_assert_eq!(order, a.cmp(&b));
            }
            // And it gives one for the figures costing meets: short mantissas.
            if a.mantissa().unsigned_abs() < 1 << 30 && b.mantissa().unsigned_abs() < 1 << 30 {
                let short = a.scale().abs_diff(b.scale()) < 9;
                let both_zero = x.is_zero() && y.is_zero();
                prop_assert!(!short || x.add(y).is_some() && x.compare(y).is_some());
                prop_assert!(!short || x.sub(y).is_some() != both_zero);
                prop_assert!(a.scale() + b.scale() > 28 || x.mul(y).is_some());
            }
        }
    }
}
