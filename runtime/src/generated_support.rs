//! What generated code calls instead of spelling things out per flow.
//!
//! A 1,000-document corpus has about 6,000 flows; every token a flow emits is allocated,
//! moved and freed by the code generator and then parsed by rustc. So the static
//! descriptions ([`FlowInfo`], [`PropertyInfo`], [`EntityKey`]) are built with the
//! `const fn`s here instead of struct literals naming every field, flows without
//! references get their two `references` methods from [`no_references!`], and paths
//! through lists use [`single`], [`SlotAt`] and [`references`].
//!
//! Paths through lists (`order_line_items.unit_price`): when both sides of a row go through
//! lists, the mapping is element-wise (element `i` of the source list is written to element
//! `i` of the target list, [`SlotAt`]); when the side read has more list levels than the
//! side written, the values of the extra levels must agree ([`single`]): several different
//! values cannot be written into one property, and silently taking one of them would lose
//! the others.

use crate::flow::{
    CreatePolicy, EntityKey, FlowInfo, MapError, MatchInfo, PropertyInfo, Record, Ref, Reference,
};

/// `EntityKey { system, entity }`.
pub const fn entity_key(system: &'static str, entity: &'static str) -> EntityKey {
    EntityKey { system, entity }
}

/// A documented property row without references; `ty` is the documented type, `""` for
/// `N/A`.
pub const fn property(
    source: &'static str,
    target: &'static str,
    ty: &'static str,
    location: &'static str,
) -> PropertyInfo {
    PropertyInfo {
        source,
        target,
        ty: if ty.is_empty() { None } else { Some(ty) },
        source_reference: None,
        target_reference: None,
        location,
    }
}

impl PropertyInfo {
    /// The row with the entities its source and/or target refer to.
    pub const fn with_references(
        self,
        source_reference: Option<EntityKey>,
        target_reference: Option<EntityKey>,
    ) -> PropertyInfo {
        PropertyInfo {
            source_reference,
            target_reference,
            ..self
        }
    }
}

/// One match rule alternative.
pub const fn match_rule(source: &'static str, target: &'static str) -> MatchInfo {
    MatchInfo { source, target }
}

/// A flow's description with what most flows have: no `connected_via`, no condition, no
/// merge, no match rules, no properties. The `with_*` functions add the rest.
pub const fn flow_info(
    name: &'static str,
    source: EntityKey,
    target: EntityKey,
    create: CreatePolicy,
    location: &'static str,
) -> FlowInfo {
    FlowInfo {
        name,
        source,
        target,
        create,
        connected_via: &[],
        condition: None,
        merge: false,
        match_rules: &[],
        properties: &[],
        location,
    }
}

impl FlowInfo {
    pub const fn with_properties(self, properties: &'static [PropertyInfo]) -> FlowInfo {
        FlowInfo { properties, ..self }
    }

    pub const fn with_connected_via(self, connected_via: &'static [EntityKey]) -> FlowInfo {
        FlowInfo {
            connected_via,
            ..self
        }
    }

    pub const fn with_condition(self, condition: &'static str) -> FlowInfo {
        FlowInfo {
            condition: Some(condition),
            ..self
        }
    }

    pub const fn with_merge(self) -> FlowInfo {
        FlowInfo {
            merge: true,
            ..self
        }
    }

    pub const fn with_match_rules(self, match_rules: &'static [MatchInfo]) -> FlowInfo {
        FlowInfo {
            match_rules,
            ..self
        }
    }
}

/// The one value a path through a list holds for a property that holds one value: `None`
/// when no element has a value, the value when every element that has one agrees, and
/// [`MapError::Conversion`] when elements differ (a permanent failure: which one to keep
/// is not the mapping's to decide).
pub fn single<T: PartialEq>(
    values: impl IntoIterator<Item = T>,
    property: &'static str,
) -> Result<Option<T>, MapError> {
    let mut values = values.into_iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    let mut count = 1usize;
    let mut differ = false;
    for value in values {
        count += 1;
        differ |= value != first;
    }
    if differ {
        Err(MapError::Conversion {
            property,
            message: format!(
                "the list holds {count} different values; the property it is mapped to holds one"
            ),
        })
    } else {
        Ok(Some(first))
    }
}

/// The [`Reference`]s of every reference read through a list (for `references()`).
pub fn references<'a, F: Record, T: Record>(
    values: impl IntoIterator<Item = &'a Ref<F>>,
    property: &'static str,
) -> impl Iterator<Item = Reference> {
    values.into_iter().map(move |r| Reference {
        property,
        from: F::KEY,
        id: r.id().clone(),
        to: T::KEY,
    })
}

/// Element `index` of a list being written, created (with every element before it) on
/// demand, so element `i` of a source list lands in element `i` of the target list.
pub trait SlotAt {
    type Item;
    fn slot_at(&mut self, index: usize) -> &mut Self::Item;
}

impl<T: Default> SlotAt for Vec<T> {
    type Item = T;
    fn slot_at(&mut self, index: usize) -> &mut T {
        if self.len() <= index {
            self.resize_with(index + 1, T::default);
        }
        &mut self[index]
    }
}

/// The `references`, `inverse_references` and `has_references` methods of a flow that maps
/// no reference.
#[macro_export]
macro_rules! no_references {
    () => {
        fn references(&self, _: &Self::Source) -> ::std::vec::Vec<$crate::Reference> {
            ::std::vec::Vec::new()
        }

        fn inverse_references(&self, _: &Self::Target) -> ::std::vec::Vec<$crate::Reference> {
            ::std::vec::Vec::new()
        }

        fn has_references(&self) -> bool {
            false
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::RecordId;

    #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Customer;
    impl Record for Customer {
        const KEY: EntityKey = entity_key("A", "Customer");
    }
    #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Client;
    impl Record for Client {
        const KEY: EntityKey = entity_key("B", "Client");
    }

    #[test]
    fn single_accepts_none_one_or_agreeing_values_and_rejects_differing_ones() {
        assert_eq!(single(Vec::<i64>::new(), "p"), Ok(None));
        assert_eq!(single([4], "p"), Ok(Some(4)));
        assert_eq!(single([4, 4, 4], "p"), Ok(Some(4)));
        let err = single(["a", "b", "a"], "lines.price").unwrap_err();
        assert!(matches!(
            &err,
            MapError::Conversion { property: "lines.price", message } if message.contains("3 different values")
        ));
    }

    #[test]
    fn slot_at_keeps_positions() {
        let mut list: Vec<Option<i64>> = Vec::new();
        *list.slot_at(2) = Some(3);
        assert_eq!(list, vec![None, None, Some(3)]);
        *list.slot_at(0) = Some(1);
        assert_eq!(list, vec![Some(1), None, Some(3)]);
    }

    #[test]
    fn references_of_a_list_keep_every_element() {
        let refs: Vec<Ref<Customer>> = vec![Ref::new("c1"), Ref::new(7)];
        let found: Vec<Reference> =
            references::<Customer, Client>(&refs, "lines.customer").collect();
        assert_eq!(found.len(), 2);
        assert_eq!(found[1].id, RecordId::Int(7));
        assert_eq!(found[0].to, Client::KEY);
    }

    #[test]
    fn const_builders_fill_the_description() {
        static KEYS: [EntityKey; 1] = [entity_key("A", "Order")];
        static INFO: FlowInfo = flow_info(
            "A Customer -> B Client",
            Customer::KEY,
            Client::KEY,
            CreatePolicy::WhenConnected,
            "a.rst:3",
        )
        .with_connected_via(&KEYS)
        .with_condition("When paid")
        .with_merge()
        .with_match_rules(&[match_rule("email", "Email")])
        .with_properties(&[
            property("email", "Email", "string", "a.rst:9"),
            property("owner", "Owner", "", "a.rst:10").with_references(Some(Customer::KEY), None),
        ]);
        assert_eq!(INFO.properties[0].ty, Some("string"));
        assert_eq!(INFO.properties[1].ty, None);
        assert_eq!(INFO.properties[1].source_reference, Some(Customer::KEY));
        assert_eq!(INFO.connected_via, &KEYS);
        assert_eq!(INFO.condition, Some("When paid"));
        assert!(INFO.merge);
        assert_eq!(INFO.match_rules[0].target, "Email");
        assert_eq!(INFO.location, "a.rst:3");
    }
}
