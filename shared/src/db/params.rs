//! Statement parameters that carry their PostgreSQL type.
//!
//! Every statement is sent unnamed (Parse, Bind, Execute and Sync in one round trip,
//! tokio-postgres' `*_typed` calls), so no prepared statement outlives its transaction
//! and a transaction-mode pooler (RDS Proxy, PgBouncer) can hand each transaction to any
//! server connection. An unnamed statement needs its parameters' types up front; the
//! [`Param`] trait gives each Rust type we bind the one PostgreSQL type it is sent as.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

/// A value bound to a statement, with the type it is sent as.
pub trait Param: ToSql + Sync {
    fn pg_type(&self) -> Type;
}

/// The PostgreSQL type of a Rust type, and of an array of it.
pub trait PgType {
    const TYPE: Type;
    const ARRAY: Type;
}

macro_rules! pg_type {
    ($($rust:ty => $scalar:ident, $array:ident;)*) => {
        $(impl PgType for $rust {
            const TYPE: Type = Type::$scalar;
            const ARRAY: Type = Type::$array;
        })*
    };
}

pg_type! {
    &str => TEXT, TEXT_ARRAY;
    String => TEXT, TEXT_ARRAY;
    bool => BOOL, BOOL_ARRAY;
    i32 => INT4, INT4_ARRAY;
    i64 => INT8, INT8_ARRAY;
    Uuid => UUID, UUID_ARRAY;
    Decimal => NUMERIC, NUMERIC_ARRAY;
    DateTime<Utc> => TIMESTAMPTZ, TIMESTAMPTZ_ARRAY;
    NaiveDate => DATE, DATE_ARRAY;
    serde_json::Value => JSONB, JSONB_ARRAY;
}

impl<T: PgType> PgType for Option<T> {
    const TYPE: Type = T::TYPE;
    const ARRAY: Type = T::ARRAY;
}

/// Arrays are one level deep: `Vec<T>` and `&[T]` are sent as `T`'s array type.
impl<T: PgType> PgType for Vec<T> {
    const TYPE: Type = T::ARRAY;
    const ARRAY: Type = T::ARRAY;
}

impl<T: PgType> PgType for &[T] {
    const TYPE: Type = T::ARRAY;
    const ARRAY: Type = T::ARRAY;
}

impl<T: PgType + ToSql + Sync> Param for T {
    fn pg_type(&self) -> Type {
        T::TYPE
    }
}

/// The parameters as tokio-postgres' typed calls take them.
pub(crate) fn typed<'a>(params: &'a [&'a dyn Param]) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    params.iter().map(|param| (*param as &(dyn ToSql + Sync), param.pg_type())).collect()
}
