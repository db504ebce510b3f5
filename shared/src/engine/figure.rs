//! Figures kept as integers while a plain stream's sales are costed one after another.
//!
//! A `Decimal` is written field by field and read back whole, and the processor then
//! waits for the write on every read: where one sale's result is the next sale's
//! operand (what is on hand, what the pool is worth), that wait is most of the cost.
//! A [`Figure`] is the same number as a mantissa and a scale. Its operations give
//! exactly what [`exact_add`], [`exact_sub`] and [`exact_mul`] give, value and places
//! alike, or `None` wherever they might not (beyond 96 bits or 28 places, or a zero
//! whose sign `Decimal` keeps); the caller then goes on in `Decimal`s.
//!
//! [`exact_add`]: crate::money::exact_add
//! [`exact_sub`]: crate::money::exact_sub
//! [`exact_mul`]: crate::money::exact_mul

use std::cmp::Ordering;

use rust_decimal::Decimal;

/// What a `Decimal`'s mantissa stays below.
const MANTISSA_LIMIT: u128 = 1 << 96;
/// The most places a `Decimal` keeps.
const MAX_SCALE: u32 = 28;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Figure {
    pub(super) mantissa: i128,
    pub(super) scale: u32,
}

impl Figure {
    /// `Decimal::ZERO`: no places.
    pub(super) const ZERO: Self = Self { mantissa: 0, scale: 0 };

    /// `None` for a negative zero, whose sign a figure does not keep.
    pub(super) fn of(value: Decimal) -> Option<Self> {
        let figure = Self::parts_of(value);
        (!(figure.is_zero() && value.is_sign_negative())).then_some(figure)
    }

    /// `value`'s mantissa and places, for arithmetic where a zero's sign does not count.
    pub(super) fn parts_of(value: Decimal) -> Self {
        Self { mantissa: value.mantissa(), scale: value.scale() }
    }

    pub(super) fn new(mantissa: i128, scale: u32) -> Option<Self> {
        (mantissa.unsigned_abs() < MANTISSA_LIMIT && scale <= MAX_SCALE).then_some(Self { mantissa, scale })
    }

    pub(super) fn decimal(self) -> Decimal {
        Decimal::from_i128_with_scale(self.mantissa, self.scale)
    }

    pub(super) fn is_zero(self) -> bool {
        self.mantissa == 0
    }

    /// The mantissa at `scale` places (at least the figure's own), if it fits a `Decimal`
    /// (and, to take one multiplication, the mantissa and the power each fit 64 bits).
    fn at_scale(self, scale: u32) -> Option<i128> {
        let places = scale - self.scale;
        if places == 0 {
            return Some(self.mantissa);
        }
        let power = 10_u64.checked_pow(places)?;
        Self::signed(self.mantissa < 0, product(self.mantissa.unsigned_abs(), power.into())?)
    }

    /// `magnitude` with its sign, if it fits a `Decimal`.
    fn signed(negative: bool, magnitude: u128) -> Option<i128> {
        let magnitude = i128::try_from(magnitude).ok().filter(|&m| m.unsigned_abs() < MANTISSA_LIMIT)?;
        Some(if negative { -magnitude } else { magnitude })
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
        Self::new(self.at_scale(scale)? + other.at_scale(scale)?, scale)
    }

    /// `exact_sub`, which adds the negated operand (a zero taken from a zero is a
    /// negative zero there: `None`).
    pub(super) fn sub(self, other: Self) -> Option<Self> {
        if other.is_zero() {
            return (!self.is_zero()).then_some(self);
        }
        self.add(Self { mantissa: -other.mantissa, scale: other.scale })
    }

    /// `exact_mul`: zero without places where either operand is zero, else the product
    /// at the operands' places added together.
    pub(super) fn mul(self, other: Self) -> Option<Self> {
        if self.is_zero() || other.is_zero() {
            return Some(Self::ZERO);
        }
        let magnitude = product(self.mantissa.unsigned_abs(), other.mantissa.unsigned_abs())?;
        Self::new(Self::signed((self.mantissa < 0) != (other.mantissa < 0), magnitude)?, self.scale + other.scale)
    }

    /// The order of the two numbers, where both fit a `Decimal` at the longer places.
    pub(super) fn compare(self, other: Self) -> Option<Ordering> {
        let scale = self.scale.max(other.scale);
        Some(self.at_scale(scale)?.cmp(&other.at_scale(scale)?))
    }
}

/// `a × b` where both fit 64 bits (one multiplication), else `None`.
fn product(a: u128, b: u128) -> Option<u128> {
    Some(u128::from(u64::try_from(a).ok()?) * u128::from(u64::try_from(b).ok()?))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::money::{exact_add, exact_mul, exact_sub};

    /// Decimals as costing meets them: zeros (of either sign) and long mantissas
    /// included, at up to 28 places.
    fn any_decimal() -> impl Strategy<Value = Decimal> {
        let mantissa = prop_oneof![
            Just(0_i128),
            -1_000_000_i128..1_000_000,
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
                prop_assert!(a.is_zero() && a.is_sign_negative() || b.is_zero() && b.is_sign_negative());
                return Ok(());
            };
            prop_assert_eq!(format!("{:?}", x.decimal()), format!("{a:?}"));
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
            if a.mantissa().unsigned_abs() < 1 << 40 && b.mantissa().unsigned_abs() < 1 << 40 {
                let short = a.scale().abs_diff(b.scale()) < 12;
                let both_zero = x.is_zero() && y.is_zero();
                prop_assert!(!short || x.add(y).is_some() && x.compare(y).is_some());
                prop_assert!(!short || x.sub(y).is_some() != both_zero);
                prop_assert!(a.scale() + b.scale() > 28 || x.mul(y).is_some());
            }
        }
    }
}
