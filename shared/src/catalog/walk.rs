//! The one walk over a bundle's components, nested bundles included, with the guard against
//! bundle cycles. Expanding a bundle into its items, checking it for cycles and planning a
//! request for it all visit components through here.

use super::{Catalog, CatalogBundle, Component, Document, Entry};

/// One component met on the walk.
pub struct Step<'a, 't> {
    /// Its position among its bundle's components.
    pub index: usize,
    pub component: &'a Component,
    /// The document it names, if the catalog has one of the kind it says.
    pub entry: Option<&'a Entry>,
    /// The bundle ids from the walk's start down to the bundle holding this component.
    pub trail: &'t [&'a str],
    /// It names a bundle already on the trail: the walk does not go into it.
    pub closes_cycle: bool,
}

/// Visits the components of `bundle` in order, depth first. `above` are the bundles the walk
/// counts as already entered (for cycles). For a component naming a bundle, `visit` returning
/// `Some(state)` goes into it with that state; `None`, or a cycle, passes it by. The first
/// error stops the walk.
pub fn walk<'a, S, E>(
    catalog: &'a Catalog,
    above: &[&'a str],
    bundle: &'a CatalogBundle,
    state: &S,
    visit: &mut impl FnMut(&Step<'a, '_>, &S) -> Result<Option<S>, E>,
) -> Result<(), E> {
    let mut trail = above.to_vec();
    trail.push(bundle.metadata.id.as_str());
    walk_in(catalog, bundle, state, &mut trail, visit)
}

fn walk_in<'a, S, E>(
    catalog: &'a Catalog,
    bundle: &'a CatalogBundle,
    state: &S,
    trail: &mut Vec<&'a str>,
    visit: &mut impl FnMut(&Step<'a, '_>, &S) -> Result<Option<S>, E>,
) -> Result<(), E> {
    for (index, component) in bundle.components.iter().enumerate() {
        let entry = catalog.resolve(&component.target).ok();
        let inner = entry.and_then(|e| match &e.document {
            Document::Bundle(b) => Some(b),
            Document::Item(_) => None,
        });
        let closes_cycle = inner.is_some_and(|b| trail.contains(&b.metadata.id.as_str()));
        let next = visit(
            &Step {
                index,
                component,
                entry,
                trail,
                closes_cycle,
            },
            state,
        )?;
        if let (Some(next), Some(inner), false) = (next, inner, closes_cycle) {
            trail.push(inner.metadata.id.as_str());
            walk_in(catalog, inner, &next, trail, visit)?;
            trail.pop();
        }
    }
    Ok(())
}
