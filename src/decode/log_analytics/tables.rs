//! The tables of a Log Analytics query-API response.
//!
//! `{"tables":[{"name":…,"columns":[{"name":…,"type":…}],"rows":[[…]]}]}`: each
//! table's column names are classified once into a plan, and each row (an array of
//! cells in column order) is then applied cell by cell through that plan, streamed as
//! it is parsed. Rows that come before their columns (no API does that, but JSON does
//! not forbid it) are kept as borrowed text until the columns are known.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::cells::CellSeed;
use super::columns::{classify, Spec};
use super::json::Ctx;
use super::row::Row;
use crate::decode::lenient::{Key, LenientStr};

/// One table of a query response.
pub(super) struct TableSeed<'c, 's, 'a> {
    pub(super) ctx: &'c mut Ctx<'s, 'a>,
}

impl<'de> DeserializeSeed<'de> for TableSeed<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TableSeed<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"a table {"name","columns","rows"}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut plan: Option<Vec<Spec>> = None;
        let mut deferred: Option<&'de RawValue> = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.eq_ignore_ascii_case("columns") {
                plan = Some(map.next_value_seed(ColumnsSeed)?);
            } else if key.eq_ignore_ascii_case("rows") {
                match &plan {
                    Some(plan) => map.next_value_seed(TableRowsSeed {
                        ctx: &mut *self.ctx,
                        plan,
                    })?,
                    // Rows before columns: kept (borrowed) until the columns are known.
                    None => deferred = Some(map.next_value::<&'de RawValue>()?),
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if let Some(rows) = deferred {
            let plan = plan.unwrap_or_default();
            let mut de = serde_json::Deserializer::from_str(rows.get());
            // Already delimited, so a syntax error cannot happen here; a non-array is
            // simply no rows.
            let _ = TableRowsSeed {
                ctx: &mut *self.ctx,
                plan: &plan,
            }
            .deserialize(&mut de);
        }
        Ok(())
    }
}

/// `columns`: `[{"name":…,"type":…}]` (or plain names), classified once.
struct ColumnsSeed;

impl<'de> DeserializeSeed<'de> for ColumnsSeed {
    type Value = Vec<Spec>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Spec>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ColumnsSeed {
    type Value = Vec<Spec>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of columns")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Spec>, A::Error> {
        let mut plan = Vec::new();
        while let Some(ColumnName(name)) = seq.next_element::<ColumnName<'de>>()? {
            plan.push(name.as_deref().map_or(Spec::IGNORED, classify));
        }
        Ok(plan)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Spec>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Vec::new())
    }
    fn visit_str<E>(self, _: &str) -> Result<Vec<Spec>, E> {
        Ok(Vec::new())
    }
    fn visit_unit<E>(self) -> Result<Vec<Spec>, E> {
        Ok(Vec::new())
    }
}

/// A column descriptor's name: `{"name":"TimeGenerated","type":"datetime"}` or a string.
struct ColumnName<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for ColumnName<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ColumnNameVisitor)
    }
}

struct ColumnNameVisitor;

impl<'de> Visitor<'de> for ColumnNameVisitor {
    type Value = ColumnName<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a column descriptor")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut name = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.eq_ignore_ascii_case("name") || key.eq_ignore_ascii_case("ColumnName") {
                name = map.next_value::<LenientStr<'de>>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(ColumnName(name))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(ColumnName(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(ColumnName(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(ColumnName(None))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(ColumnName(None))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(ColumnName(None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(ColumnName(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(ColumnName(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(ColumnName(None))
    }
}

/// A table's `rows`, each row an array of cells in column order.
struct TableRowsSeed<'c, 's, 'a, 'p> {
    ctx: &'c mut Ctx<'s, 'a>,
    plan: &'p [Spec],
}

impl<'de> DeserializeSeed<'de> for TableRowsSeed<'_, '_, 'de, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TableRowsSeed<'_, '_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.ctx.index = 0;
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            self.ctx.array_row(raw.get().as_bytes(), Some(self.plan));
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// One table row: cells in the order of the table's columns.
pub(super) struct CellsVisitor<'r, 'a, 'p> {
    pub(super) row: &'r mut Row<'a>,
    pub(super) plan: &'p [Spec],
}

impl<'de> Visitor<'de> for CellsVisitor<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of cells")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            let spec = self.plan.get(i).copied().unwrap_or(Spec::IGNORED);
            if seq
                .next_element_seed(CellSeed {
                    row: &mut *self.row,
                    spec,
                })?
                .is_none()
            {
                return Ok(());
            }
            i += 1;
        }
    }
}
